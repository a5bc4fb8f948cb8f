"""The REST API of a proxy's stored answers: listed, deleted one by one, exported and imported as a recording
(docs/recordings.md). Clearing them all is proxies/api.py's ProxyCacheApi."""

import re
import tempfile

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from proxies import cache_entries, recordings, services
from proxies.api import owned_proxy
from proxies.serializers import CacheEntryPageSerializer, ImportOutcomeSerializer, RecordingErrorSerializer
from restapi.openapi import errors
from restapi.streaming import streaming_response

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# An import's body beyond this is kept in a temporary file, not in memory, while it is read twice.
SPOOL_BYTES = 8 * 1024 * 1024


class ListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)
    model = serializers.CharField(required=False, default="", help_text="Only answers of this model (exactly).")
    path = serializers.CharField(required=False, default="", help_text="Only answers whose path contains this.")
    q = serializers.CharField(
        required=False, default="", help_text="Only answers whose key, model or path contains this."
    )


class CacheEntryListApi(APIView):
    @extend_schema(
        operation_id="proxies_cache_list",
        summary="A proxy's stored answers",
        description="Newest first, a page at a time; `count`, `total_bytes` and `total_hits` are of every answer "
        "that matches the filters. Answers served from memory and not yet stored (a fraction of a second) are not "
        "listed yet.",
        parameters=[ListQuery],
        responses={200: CacheEntryPageSerializer, **errors(400, 401, 404)},
    )
    def get(self, request, pk):
        proxy = owned_proxy(request, pk)
        query = ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, size = query.validated_data["page"], query.validated_data["page_size"]
        filters = {name: query.validated_data[name] for name in ("model", "path", "q")}
        rows = cache_entries.entries(proxy, **filters)
        body = cache_entries.totals(rows)
        start = (page - 1) * size
        results = [cache_entries.listed(row) for row in rows.values(*cache_entries.LISTED)[start : start + size]]
        body["next"] = page_url(request, page + 1, size) if start + size < body["count"] else None
        body["previous"] = page_url(request, page - 1, size) if page > 1 else None
        body["results"] = results
        return Response(CacheEntryPageSerializer(body).data)


def page_url(request, page: int, size: int) -> str:
    params = request.query_params.copy()
    params.pop("page", None)
    params.pop("page_size", None)
    params.update({"page": str(page), "page_size": str(size)})
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


class CacheEntryDetailApi(APIView):
    @extend_schema(
        operation_id="proxies_cache_entry_delete",
        summary="Delete one stored answer",
        description="By its cache key. Answers once the running proxy no longer serves it (or after "
        "RUBBERDUCK_APPLY_WAIT_SECONDS at most).",
        parameters=[OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The cache key.")],
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request, pk, key):
        proxy = owned_proxy(request, pk)
        if not cache_entries.entry_delete(proxy=proxy, key=key):
            return Response({"detail": "No stored answer has this key.", "code": "not_found"}, status=404)
        services.wait_applied(proxy)
        return Response(status=status.HTTP_204_NO_CONTENT)


def download_name(name: str) -> str:
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "proxy") + recordings.SUFFIX


class CacheExportApi(APIView):
    @extend_schema(
        operation_id="proxies_cache_export",
        summary="Download a proxy's recording",
        description="Its stored answers as a recording file (JSON lines, streamed): a header line, then one entry "
        "per line sorted by key. Never a request body, an API key or a credential header. See docs/recordings.md.",
        responses={
            (200, recordings.MEDIA_TYPE): OpenApiResponse(OpenApiTypes.BINARY, "The recording file (a download)."),
            **errors(401, 404),
        },
    )
    def get(self, request, pk):
        proxy = owned_proxy(request, pk)
        response = streaming_response(request, cache_entries.export(proxy), recordings.MEDIA_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{download_name(proxy.name)}"'
        response["Cache-Control"] = "no-store"
        return response


class CacheImportApi(APIView):
    # A multipart body is parsed (its `file`); any other is read raw, as the recording itself.
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="proxies_cache_import",
        summary="Load a recording into a proxy's cache",
        description="The body is a recording file (`application/x-ndjson` or `application/json`), or a multipart "
        "form with it as `file`. The whole file is checked first, then written in one transaction: all or "
        "nothing. Answers once the running proxy serves the imported answers (or after "
        "RUBBERDUCK_APPLY_WAIT_SECONDS at most). See docs/recordings.md.",
        request={
            recordings.MEDIA_TYPE: OpenApiRequest(OpenApiTypes.BINARY),
            "application/json": OpenApiRequest(OpenApiTypes.BINARY),
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        },
        responses={
            200: ImportOutcomeSerializer,
            400: OpenApiResponse(
                RecordingErrorSerializer,
                "The file cannot be imported (another provider, an unknown format or key version, a broken line): "
                "`line` says where. Nothing was imported.",
            ),
            **errors(401, 403, 404),
        },
    )
    def post(self, request, pk):
        proxy = owned_proxy(request, pk)
        source = uploaded(request)
        try:
            try:
                cache_entries.check(source, proxy.provider)
            except recordings.RecordingError as e:
                body = {"detail": f"{e} Nothing was imported.", "code": "invalid", "line": e.line}
                return Response(body, status=status.HTTP_400_BAD_REQUEST)
            source.seek(0)
            outcome = cache_entries.cache_import(proxy=proxy, lines=source)
        finally:
            source.close()
        services.wait_applied(proxy)
        return Response(ImportOutcomeSerializer(outcome.as_dict()).data)


class NoFile(ParseError):
    default_code = "invalid"


def uploaded(request):
    """The recording as a binary file to read twice: the multipart form's `file`, or the raw body."""
    if request.content_type.startswith("multipart/form-data"):
        upload = request.data.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise NoFile("A multipart import takes the recording file as its `file` field.")
        upload.seek(0)
        return upload
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    while chunk := request._request.read(64 * 1024):
        spool.write(chunk)
    spool.seek(0)
    return spool
