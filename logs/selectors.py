"""Reads of log entries: the filters shared by the API, the export and the live stream, and one entry shape.

The same `LogFilters` parse the query string everywhere, `log_entries()` applies them in SQL and `matches()`
applies them to a freshly written row (the live stream), so a filter means the same thing in all three.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers

from logs.models import ENTRY_FIELDS, LogEntry
from logs.records import Entry
from restapi.ids import MAX_ID


class LogFilters(serializers.Serializer):
    """`status` is a code (`429`) or a class (`4xx`); `failure=none` means entries without a failure;
    `since` is inclusive, `until` exclusive (ISO 8601; a time without an offset is UTC)."""

    proxy = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="A proxy's id.")
    status = serializers.RegexField(
        r"^(\d{3}|[1-5]xx)$", required=False, help_text="A status code (`429`) or a class (`4xx`)."
    )
    cache = serializers.ChoiceField(choices=LogEntry.Cache.values, required=False)
    failure = serializers.ChoiceField(
        choices=[*LogEntry.Failure.values, "none"], required=False, help_text="`none`: entries without a failure."
    )
    ip = serializers.CharField(required=False, max_length=64, help_text="The client's address.")
    since = serializers.DateTimeField(required=False, help_text="Inclusive; ISO 8601 (no offset: UTC).")
    until = serializers.DateTimeField(required=False, help_text="Exclusive; ISO 8601 (no offset: UTC).")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Must not be before since."]})
        return attrs


FILTER_NAMES = tuple(LogFilters().fields)


def parse_filters(params) -> dict:
    """The validated filters of a query string (raises ValidationError -> 400). Blank values are ignored."""
    data = {k: params.get(k) for k in FILTER_NAMES if params.get(k) not in (None, "")}
    if not data:
        return {}  # a serializer's fields are deep-copied per instance: not worth it for nothing
    serializer = LogFilters(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def status_range(status: str) -> tuple[int, int]:
    if status.endswith("xx"):
        low = int(status[0]) * 100
        return low, low + 99
    return int(status), int(status)


def log_entries(
    *, owner, filters: dict, ordered: bool = True, after: tuple[datetime, int] | None = None
) -> QuerySet[LogEntry]:
    """The owner's entries matching `filters`, newest first (`ordered=False`: in no order, for counts and purges);
    `after` (timestamp, id): only those after that entry in that order, the next page (`before`).

    Which index reads them is left to the planner, among the ones that give entries newest first: the time index,
    and an index per filter column that leads with it (`proxy`, `ip`, `status_code`, `cache`, `failure`), so a
    rare value's entries are read without visiting the others. Two terms are kept off the index paths with a
    `+ 0` (D80): the owner's proxies (an IN list: read through the proxy index, their entries come per proxy
    and must then all be sorted before the first 50 of them are known) and, in an ordered list, a status class
    (a range of codes: the same sort) on SQLite; PostgreSQL, estimating the range from its statistics, reads
    an ordered index for it where that is cheaper, and with `+ 0` misjudged it and sorted instead."""
    proxies = sorted(owner.proxies.values_list("id", flat=True)) if "proxy" not in filters else [filters["proxy"]]
    qs = LogEntry.objects.all()
    if not proxies or ("proxy" in filters and not owner.proxies.filter(id=filters["proxy"]).exists()):
        return qs.none()
    if len(proxies) == 1:
        qs = qs.filter(proxy_id=proxies[0])  # one proxy: its index gives its entries in order
    else:
        qs = qs.alias(owner_proxy=F("proxy_id") + 0).filter(owner_proxy__in=proxies)
    if "status" in filters:
        low, high = status_range(filters["status"])
        if low == high:
            qs = qs.filter(status_code=low)
        elif ordered and connection.vendor == "sqlite":  # PostgreSQL's estimates of the range keep it honest
            qs = qs.alias(status_class=F("status_code") + 0).filter(status_class__gte=low, status_class__lte=high)
        else:
            qs = qs.filter(status_code__gte=low, status_code__lte=high)
        if (low == high or not ordered) and not low <= 200 <= high:
            qs = qs.filter(literal(f'"logs_logentry"."status_code" {"<" if high < 200 else ">"} 200'))
    if "cache" in filters:
        qs = qs.filter(cache=filters["cache"])
        if filters["cache"] == LogEntry.Cache.BYPASS:
            qs = qs.filter(literal('"logs_logentry"."cache" = \'bypass\''))
    if "failure" in filters:
        qs = qs.filter(failure__isnull=True) if filters["failure"] == "none" else qs.filter(failure=filters["failure"])
    if "ip" in filters:
        qs = qs.filter(ip=filters["ip"])
    if "since" in filters:
        qs = qs.filter(timestamp__gte=filters["since"])
    if "until" in filters and not (after and after[0] < filters["until"]):
        # Implied by `after`'s bound, it would be the one a planner starts its index range at, and every next
        # page would read again all the entries of the ones before it (D106).
        qs = qs.filter(timestamp__lt=filters["until"])
    if after:
        qs = before(qs, *after)
    return qs.order_by("-timestamp", "-id") if ordered else qs.order_by()


def literal(sql: str) -> RawSQL:
    """A term implied by the filters, written out as a partial index's condition (logs.models): SQLite uses such
    an index only when the query has its condition's very terms, with values, not parameters (D81)."""
    return RawSQL(sql, (), output_field=BooleanField())


COUNT_LIMIT = 10_000  # past it a list's total is given as a lower bound ("10,000+")


def bounded_count_query(qs: QuerySet[LogEntry]) -> QuerySet[LogEntry]:
    """The ids a bounded count counts (of `log_entries(ordered=False)`): at most COUNT_LIMIT + 1."""
    return qs.values("id")[: COUNT_LIMIT + 1]


COUNT_BUDGET = 0.025  # seconds a list's count may take before it settles for a lower bound


def bounded_count(qs: QuerySet[LogEntry], *, at_least: int = 0) -> tuple[int, bool]:
    """(total, is_lower_bound): exact up to COUNT_LIMIT, else COUNT_LIMIT and True. A count visits every entry it
    counts, so an exact one of millions would take seconds; this one visits at most COUNT_LIMIT + 1. And it has
    COUNT_BUDGET to do it: where two filters' rows are each common but rare together, the planner may walk one
    filter's index through all of its rows; past the budget the query is interrupted and the total is
    `at_least` (what the page itself showed), a lower bound (D82)."""
    try:
        with time_limit(COUNT_BUDGET):
            n = bounded_count_query(qs).count()
    except OperationalError:
        return at_least, True
    return (COUNT_LIMIT, True) if n > COUNT_LIMIT else (n, False)


@contextmanager
def time_limit(seconds: float):
    """Interrupts this connection's statements past `seconds`: SQLite's progress handler, PostgreSQL's
    statement_timeout (in a savepoint, so that a cancelled count rolls back alone). Raises OperationalError."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        deadline = time.monotonic() + seconds
        connection.connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        try:
            yield
        finally:
            connection.connection.set_progress_handler(None, 1000)
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [max(1, round(seconds * 1000))])
            yield
    else:
        yield


def before(qs: QuerySet[LogEntry], timestamp: datetime, entry_id: int) -> QuerySet[LogEntry]:
    """Keyset: the entries strictly after (timestamp, id) in newest-first order. `timestamp <= t` is implied by the
    rest; it is the term a planner can start an index range at, without which SQLite gathers every older entry of
    the owner's proxies for each next page (D34)."""
    return qs.filter(Q(timestamp__lte=timestamp), Q(timestamp__lt=timestamp) | Q(timestamp=timestamp, id__lt=entry_id))


def matches(row: dict, filters: dict) -> bool:
    """`filters` applied to a row the writer just committed (the live stream's view of `log_entries`)."""
    if "proxy" in filters and row["proxy_id"] != filters["proxy"]:
        return False
    if "status" in filters:
        low, high = status_range(filters["status"])
        if not low <= row["status_code"] <= high:
            return False
    if "cache" in filters and row["cache"] != filters["cache"]:
        return False
    if "failure" in filters and row["failure"] != (None if filters["failure"] == "none" else filters["failure"]):
        return False
    if "ip" in filters and row["ip"] != filters["ip"]:
        return False
    if "since" in filters and row["timestamp"] < filters["since"]:
        return False
    return not ("until" in filters and row["timestamp"] >= filters["until"])


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the microsecond (what is stored)."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _cost(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


COST = ENTRY_FIELDS.index("cost_usd")  # where the entry's columns and fields part ways


def entry_of_row(e: Entry) -> dict:
    """The same shape from an entry the writer committed (logs/writer.py), without reading it back."""
    return {
        "id": e.id,
        "timestamp": iso(datetime.fromtimestamp(e.timestamp, tz=UTC)),
        "proxy": e.proxy_id,
        **dict(zip(ENTRY_FIELDS[3:COST], e[3:COST], strict=True)),  # ip .. completion_tokens
        "cost_usd": _cost(e.cost_usd),
        "client_messages": e.client_messages,
        "upstream_messages": e.upstream_messages,
    }
