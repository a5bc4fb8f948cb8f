"""The proxies part of the REST API. Every lookup is scoped to the requesting user: others' objects 404. Writes the
running proxy acts on answer once it has (proxies/pending.py)."""

import yaml
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

import providers
from proxies import declarations, services
from proxies.failures_schema import FailureConfigSerializer
from proxies.models import Proxy
from proxies.pending import LOCATION, PENDING, POLLED, applied, detail_path, poll, polled_revision
from proxies.serializers import (
    ApplyOutcomeSerializer,
    CloneSerializer,
    DeclarationErrorsSerializer,
    DeclarationSerializer,
    ProviderSerializer,
    ProxySerializer,
    StopSerializer,
)
from restapi.openapi import DeletedSerializer, errors


def owned_proxy(request, pk) -> Proxy:
    return get_object_or_404(Proxy, pk=pk, owner=request.user)


class ProviderListApi(APIView):
    @extend_schema(
        operation_id="providers_list",
        summary="The providers a proxy can speak for",
        responses={200: ProviderSerializer(many=True), **errors(401)},
    )
    def get(self, request):
        return Response(
            [
                {
                    "id": p.id,
                    "name": p.name,
                    "default_upstream_url": p.default_upstream_url,
                    "coverage": p.coverage(),
                }
                for p in providers.registry().values()
            ]
        )


class ProxyListApi(APIView):
    @extend_schema(
        operation_id="proxies_list",
        summary="Your proxies",
        parameters=[
            OpenApiParameter("status", enum=Proxy.Status.values, description="Only proxies in this status."),
            OpenApiParameter(
                "provider", enum=sorted(providers.registry()), description="Only proxies of this provider."
            ),
            OpenApiParameter("tag", description="Only proxies with this tag."),
            OpenApiParameter("name", description="Only the proxy of this name (names are unique per user)."),
        ],
        responses={200: ProxySerializer(many=True), **errors(400, 401)},
    )
    def get(self, request):
        proxies = Proxy.objects.filter(owner=request.user)
        for param, choices in (("status", Proxy.Status.values), ("provider", providers.registry()), ("name", None)):
            value = request.query_params.get(param)
            if value and choices is not None and value not in choices:
                raise ValidationError({param: [f"Choose one of: {', '.join(sorted(choices))}."]})
            if value:
                proxies = proxies.filter(**{param: value})
        tag = request.query_params.get("tag")
        result = [p for p in proxies if not tag or tag in (p.tags or [])]
        return Response(ProxySerializer(result, many=True).data)

    @extend_schema(
        summary="Create a proxy (and start it)",
        description="`port` omitted or null: a free port is assigned. A port another proxy uses: 400.",
        request=ProxySerializer,
        responses={201: ProxySerializer, **errors(400, 401, 403)},
    )
    def post(self, request):
        serializer = ProxySerializer(data=request.data, context={"owner": request.user})
        serializer.is_valid(raise_exception=True)
        try:
            proxy = services.proxy_create(owner=request.user, **serializer.validated_data)
        except services.NoFreePort as e:
            return Response({"port": [str(e)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ProxySerializer(proxy).data, status=status.HTTP_201_CREATED)


class ProxyDetailApi(APIView):
    @extend_schema(
        summary="A proxy",
        parameters=[POLLED],
        responses={200: ProxySerializer, 202: PENDING, **errors(400, 401, 404)},
    )
    def get(self, request, pk):
        proxy = owned_proxy(request, pk)
        return poll(request, proxy) or Response(ProxySerializer(proxy).data)

    @extend_schema(
        summary="Change a proxy",
        description="Answers once a running proxy serves the new settings (a new port restarts it), or 202.",
        request=ProxySerializer,
        parameters=[LOCATION],
        responses={200: ProxySerializer, 202: PENDING, **errors(400, 401, 403, 404)},
    )
    def patch(self, request, pk):
        proxy = owned_proxy(request, pk)
        serializer = ProxySerializer(proxy, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if "port" in fields and fields["port"] is None:
            fields.pop("port")
        proxy = services.proxy_update(proxy=proxy, **fields)
        return applied(request, proxy, proxy_answer, request.path)

    @extend_schema(
        summary="Delete a proxy",
        description="It stops serving; its cache and its log entries go with it.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request, pk):
        services.proxy_delete(proxy=owned_proxy(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def proxy_answer(proxy: Proxy) -> dict:
    return ProxySerializer(proxy).data


class ProxyStartApi(APIView):
    @extend_schema(
        operation_id="proxies_start",
        summary="Start a proxy",
        description="Answers once `status` is `running` or `error` (then `last_error` says why), or 202.",
        request=None,
        parameters=[LOCATION],
        responses={200: ProxySerializer, 202: PENDING, **errors(401, 403, 404)},
    )
    def post(self, request, pk):
        proxy = services.proxy_start(proxy=owned_proxy(request, pk))
        return applied(request, proxy, proxy_answer, detail_path(request), steady=True)


class ProxyStopApi(APIView):
    @extend_schema(
        operation_id="proxies_stop",
        summary="Stop a proxy",
        description="`graceful` (the default) lets requests in flight finish; `force` cuts them. Answers once "
        "`status` is `stopped` and the port refuses connections, or 202 (e.g. requests still finishing).",
        request=StopSerializer,
        parameters=[LOCATION],
        responses={200: ProxySerializer, 202: PENDING, **errors(400, 401, 403, 404)},
    )
    def post(self, request, pk):
        proxy = owned_proxy(request, pk)
        serializer = StopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proxy = services.proxy_stop(proxy=proxy, mode=serializer.validated_data["mode"])
        return applied(request, proxy, proxy_answer, detail_path(request), steady=True)


class ProxyCacheApi(APIView):
    @extend_schema(
        operation_id="proxies_cache_clear_poll",
        summary="Poll a pending cache clear",
        description="The `Location` of a clear that answered 202: 202 until the running proxy has dropped the "
        "answers it held in memory, then 200 with the count the clear reported (`deleted`).",
        parameters=[
            OpenApiParameter("revision", OpenApiTypes.INT, required=True, description="The clear's revision."),
            OpenApiParameter("deleted", OpenApiTypes.INT, description="The count the clear reported."),
        ],
        responses={200: DeletedSerializer, 202: PENDING, **errors(400, 401, 404)},
    )
    def get(self, request, pk):
        proxy = owned_proxy(request, pk)
        if polled_revision(request) is None:
            raise ValidationError({"revision": ["The revision of the clear to poll is required."]})
        deleted = request.query_params.get("deleted", "0")
        deleted = int(deleted) if deleted.isdigit() else 0
        if proxy.revision == polled_revision(request):  # no write since the clear: what the runner added is its
            deleted += proxy.cache_cleared_extra
        return poll(request, proxy) or Response({"deleted": deleted})

    @extend_schema(
        operation_id="proxies_cache_clear",
        summary="Empty a proxy's cache",
        description="Answers once no call to the proxy can be answered from what it held, or 202. `deleted` counts "
        "every answer removed: those stored and those the running proxy held in memory only.",
        parameters=[LOCATION],
        responses={200: DeletedSerializer, 202: PENDING, **errors(401, 403, 404)},
    )
    def delete(self, request, pk):
        proxy = owned_proxy(request, pk)
        deleted = services.proxy_cache_clear(proxy=proxy)
        cleared_at = proxy.cache_cleared_at

        def answer(proxy: Proxy) -> dict:
            # With what the running proxy removed beyond the stored rows (in memory, a store in flight).
            extra = proxy.cache_cleared_extra if proxy.cache_cleared_at == cleared_at else 0
            return {"deleted": deleted + extra}

        return applied(request, proxy, answer, request.path, deleted=deleted)


class ProxyFailuresApi(APIView):
    @extend_schema(
        summary="A proxy's failure config",
        parameters=[POLLED],
        responses={200: FailureConfigSerializer, 202: PENDING, **errors(400, 401, 404)},
    )
    def get(self, request, pk):
        proxy = owned_proxy(request, pk)
        return poll(request, proxy) or Response(proxy.failures or {})

    @extend_schema(
        summary="Replace a proxy's failure config",
        description="Every part is optional; an absent part is off, `{}` turns every failure off. Unknown keys "
        "are refused. Answers once a running proxy applies it to the next request, or 202. See docs/failures.md.",
        request=FailureConfigSerializer,
        parameters=[LOCATION],
        responses={200: FailureConfigSerializer, 202: PENDING, **errors(400, 401, 403, 404)},
    )
    def put(self, request, pk):
        proxy = owned_proxy(request, pk)
        serializer = FailureConfigSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proxy = services.proxy_failures_set(proxy=proxy, config=serializer.to_config())
        return applied(request, proxy, lambda proxy: proxy.failures or {}, request.path)


class ProxyCloneApi(APIView):
    @extend_schema(
        operation_id="proxies_clone",
        summary="Copy a proxy (and start the copy)",
        description="The copy has the proxy's settings and failures, a free port and a new name.",
        request=CloneSerializer,
        responses={201: ProxySerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, pk):
        source = owned_proxy(request, pk)
        body = CloneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data.get("name") or services.name_free(request.user, f"{source.name}-copy")
        serializer = ProxySerializer(data={"name": name}, partial=True, context={"owner": request.user})
        serializer.is_valid(raise_exception=True)
        try:
            proxy = services.proxy_clone(proxy=source, name=serializer.validated_data["name"])
        except services.NoFreePort as e:
            return Response({"port": [str(e)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ProxySerializer(proxy).data, status=status.HTTP_201_CREATED)


class YamlParser(BaseParser):
    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return yaml.safe_load(stream)
        except yaml.YAMLError as e:
            raise ParseError(f"YAML parse error - {e}") from None


class TextYamlParser(YamlParser):
    media_type = "text/yaml"


def query_flag(request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


# One shape, not a choice of two: every declaration error is also a `{detail, code}` (found by tests/test_api_fuzz.py).
APPLY_BAD_REQUEST = OpenApiResponse(
    DeclarationErrorsSerializer,
    "The declaration cannot be applied: every error with its path, or only `{detail, code}` for a body that does "
    "not parse. Nothing was changed.",
)


class ApplyApi(APIView):
    """Applies a declaration document (JSON or YAML) to the requesting user's proxies; see docs/declarations.md."""

    parser_classes = [JSONParser, YamlParser, TextYamlParser]

    @extend_schema(
        operation_id="apply",
        summary="Make your proxies as a declaration lists them",
        description="The body is a declaration, as JSON or YAML (`application/yaml`, `text/yaml`). It is checked "
        "whole, then applied in one transaction: all or nothing. Applying it again changes nothing. "
        "See docs/declarations.md.",
        parameters=[
            OpenApiParameter("prune", OpenApiTypes.BOOL, description="Also delete your proxies it does not name."),
            OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Answer what it would do; change nothing."),
        ],
        request=DeclarationSerializer,
        responses={200: ApplyOutcomeSerializer, 400: APPLY_BAD_REQUEST, **errors(401, 403)},
    )
    def post(self, request):
        try:
            outcome = declarations.apply(
                request.user, request.data, prune=query_flag(request, "prune"), dry_run=query_flag(request, "dry_run")
            )
        except declarations.DeclarationError as e:
            detail = f"The declaration has {len(e.errors)} error(s); nothing was changed."
            body = {"detail": detail, "code": "invalid", "errors": e.errors}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(outcome.as_dict())
