"""The logs part of the REST API: list (keyset-paginated), export (streamed), purge. Owner-scoped throughout."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from logs import export
from logs.raw import datetime_of, entries_of, page
from logs.selectors import COUNT_BUDGET, COUNT_LIMIT, LogFilters, bounded_count, matching, parse_filters
from logs.serializers import LogEntrySerializer, LogPageSerializer
from logs.services import log_entries_purge
from restapi.openapi import DeletedSerializer, errors
from restapi.streaming import streaming_response

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def encode_cursor(timestamp: datetime, entry_id: int, count: int, lower_bound: bool = False) -> str:
    raw = f"{timestamp.isoformat()}|{entry_id}|{count}{'+' if lower_bound else ''}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, int | None, bool]:
    """(timestamp, id) of the last entry served, and the first page's total and whether it was a lower bound
    (None, False in a cursor made before cursors carried it)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, entry_id, *count = raw.split("|")
        timestamp = datetime.fromisoformat(stamp)
        lower_bound = bool(count) and count[0].endswith("+")
        total = int(count[0].removesuffix("+")) if count else None
        if timezone.is_naive(timestamp) or len(count) > 1 or (total is not None and total < 0):
            raise ValueError
        return timestamp, int(entry_id), total, lower_bound
    except (ValueError, UnicodeDecodeError, binascii.Error) as e:
        raise ValidationError({"cursor": ["Invalid cursor."]}) from e


def page_size_of(params) -> int:
    try:
        size = int(params.get("page_size") or DEFAULT_PAGE_SIZE)
    except ValueError as e:
        raise ValidationError({"page_size": ["A whole number."]}) from e
    return max(1, min(size, MAX_PAGE_SIZE))


class LogListApi(APIView):
    """Newest first. A page ends where the next one starts by (timestamp, id), never by an offset, so entries
    written between two page requests neither repeat nor push others off a page. `total` is how many entries
    match the filters when the first page was read, counted up to COUNT_LIMIT: past it `total` is COUNT_LIMIT
    and `total_is_lower_bound` true, since an exact count visits every matching entry and takes seconds at
    millions (D82). `count` is the same number (the field the API had first). Entries written since come on a
    new first page. The next pages carry the total in their cursor rather than count again (D35)."""

    @extend_schema(
        operation_id="logs_list",
        summary="Your proxies' log entries, newest first",
        description="Paginated by a cursor: follow `next` until it is null. Entries written after the first page "
        "was read come on a new first page, never in the middle. `total` is how many entries match the filters, "
        f"exact up to {COUNT_LIMIT:,}; past that it is {COUNT_LIMIT:,} and `total_is_lower_bound` is true "
        f'(show it as "{COUNT_LIMIT:,}+"); a count that would take more than {COUNT_BUDGET * 1000:.0f} ms is '
        "not finished, and `total` is then what the page read, `total_is_lower_bound` true. `count` equals `total`.",
        parameters=[
            LogFilters,
            OpenApiParameter("page_size", int, description=f"1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."),
            OpenApiParameter("cursor", description="From a previous page's `next`."),
        ],
        responses={200: LogPageSerializer, **errors(400, 401)},
    )
    def get(self, request):
        filters = parse_filters(request.query_params)
        size = page_size_of(request.query_params)
        after, total, lower_bound = None, None, False
        if request.query_params.get("cursor"):
            timestamp, entry_id, total, lower_bound = decode_cursor(request.query_params["cursor"])
            after = (timestamp, entry_id)
        rows = page(matching(owner=request.user, filters=filters, after=after), size + 1)
        if total is None and after is None and len(rows) <= size:
            total, lower_bound = len(rows), False  # a first page holding the whole list: nothing to count
        elif total is None:
            total, lower_bound = bounded_count(
                matching(owner=request.user, filters=filters, ordered=False), at_least=len(rows)
            )
        next_url = None
        if len(rows) > size:
            rows = rows[:size]
            last_id, last_timestamp = rows[-1][:2]
            params = request.query_params.copy()
            params["cursor"] = encode_cursor(datetime_of(last_timestamp), last_id, total, lower_bound)
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(
            {
                "count": total,
                "total": total,
                "total_is_lower_bound": lower_bound,
                "next": next_url,
                "results": entries_of(rows),
            }
        )

    @extend_schema(
        operation_id="logs_purge",
        summary="Delete log entries",
        description="Deletes the entries matching the filters; `since`, `until` or both are required.",
        parameters=[LogFilters],
        responses={200: DeletedSerializer, **errors(400, 401, 403)},
    )
    def delete(self, request):
        filters = parse_filters(request.query_params)
        if "since" not in filters and "until" not in filters:
            raise ValidationError({"detail": "Give since, until or both: a purge never deletes everything at once."})
        deleted = log_entries_purge(owner=request.user, filters=filters)
        return Response({"deleted": deleted}, status=status.HTTP_200_OK)


class FormatIsOurs(DefaultContentNegotiation):
    """`?format=csv|json` picks the export's format here, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class LogExportApi(APIView):
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        operation_id="logs_export",
        summary="Download log entries as CSV or JSON",
        description="Every entry matching the filters, newest first, streamed (no pagination).",
        parameters=[
            LogFilters,
            OpenApiParameter("format", enum=list(export.FORMATS), default="csv", description="The file's format."),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, "A download: CSV (a header row, then a row per entry) or a JSON array of entries."
            ),
            (200, "application/json"): LogEntrySerializer(many=True),
            **errors(400, 401),
        },
    )
    def get(self, request):
        fmt = request.query_params.get("format", "csv")
        if fmt not in export.FORMATS:
            raise ValidationError({"format": ["csv or json."]})
        filters = parse_filters(request.query_params)
        rows = export.Export(request.user, filters, fmt)
        response = streaming_response(request, iter(rows), export.CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="{export.filename(filters, fmt)}"'
        response["Cache-Control"] = "no-store"
        return response
