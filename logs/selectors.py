"""Reads of log entries: the filters shared by the API, the export and the live stream, and one entry shape.

The same `LogFilters` parse the query string everywhere, `matching()` applies them in SQL and `matches()`
applies them to a freshly written row (the live stream), so a filter means the same thing in all three.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers

from logs.models import ENTRY_FIELDS, LogEntry
from logs.records import Entry
from proxies.models import Proxy
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


TABLE = LogEntry._meta.db_table


def column(name: str) -> str:
    return f'"{TABLE}"."{name}"'


@dataclass(frozen=True)
class Matching:
    """Which log entries a list, a count, an export or a purge reads: SQL terms, ANDed, and their parameters.

    Written as SQL once rather than built with the ORM per call: building and compiling the queryset was most of
    an API call's time, ten times the query's own (D117). The terms are the ones each filter always had; which
    index reads them is left to the planner (see `matching`)."""

    where: str
    params: tuple

    def queryset(self) -> QuerySet[LogEntry]:
        """In no order (the model's ordering dropped): for purges and counts."""
        return LogEntry.objects.filter(RawSQL(self.where, self.params, output_field=BooleanField())).order_by()


def matching(
    *, owner, filters: dict, ordered: bool = True, after: tuple[datetime, int] | None = None
) -> Matching | None:
    """The owner's entries matching `filters` (a `Matching`), or None where none can: an owner without proxies,
    or a `proxy` not theirs. `ordered=False`: for counts and purges, read in no order. `after` (timestamp, id):
    only those after that entry in newest-first order (a next page).

    Which index reads them is left to the planner, among the ones that give entries newest first: the time index,
    and an index per filter column that leads with it (`proxy`, `ip`, `status_code`, `cache`, `failure`), so a
    rare value's entries are read without visiting the others. Two terms are kept off the index paths with a
    `+ 0` (D80): the owner's proxies (an IN list: read through the proxy index, their entries come per proxy
    and must then all be sorted before the first 50 of them are known) and, in an ordered list, a status class
    (a range of codes: the same sort) on SQLite; PostgreSQL, estimating the range from its statistics, reads
    an ordered index for it where that is cheaper, and with `+ 0` misjudged it and sorted instead."""
    proxies = owner_proxy_ids(owner)
    if "proxy" in filters:
        if filters["proxy"] not in proxies:
            return None
        proxies = [filters["proxy"]]
    if not proxies:
        return None
    terms, params = [], []

    def term(sql: str, *values) -> None:
        terms.append(sql)
        params.extend(values)

    if len(proxies) == 1:
        term(f"{column('proxy_id')} = %s", proxies[0])  # one proxy: its index gives its entries in order
    else:
        term(f"({column('proxy_id')} + 0) IN ({', '.join(['%s'] * len(proxies))})", *proxies)
    if "status" in filters:
        low, high = status_range(filters["status"])
        code = column("status_code")
        if low == high:
            term(f"{code} = %s", low)
        elif ordered and connection.vendor == "sqlite":  # PostgreSQL's estimates of the range keep it honest
            term(f"({code} + 0) >= %s AND ({code} + 0) <= %s", low, high)
        else:
            term(f"{code} >= %s AND {code} <= %s", low, high)
        # Terms implied by the filters, written out as a partial index's condition (logs.models): SQLite uses
        # such an index only when the query has its condition's very terms, with values, not parameters (D81).
        if (low == high or not ordered) and not low <= 200 <= high:
            term(f"{code} {'<' if high < 200 else '>'} 200")
    if "cache" in filters:
        term(f"{column('cache')} = %s", filters["cache"])
        if filters["cache"] == LogEntry.Cache.BYPASS:
            term(f"{column('cache')} = 'bypass'")  # as the status's: a partial index's condition (D81)
    if "failure" in filters:
        if filters["failure"] == "none":
            term(f"{column('failure')} IS NULL")
        else:
            term(f"{column('failure')} = %s", filters["failure"])
    if "ip" in filters:
        term(f"{column('ip')} = %s", filters["ip"])
    if "since" in filters:
        term(f"{column('timestamp')} >= %s", stamp(filters["since"]))
    if "until" in filters and not (after and after[0] < filters["until"]):
        # Implied by `after`'s bound, it would be the one a planner starts its index range at, and every next
        # page would read again all the entries of the ones before it (D106).
        term(f"{column('timestamp')} < %s", stamp(filters["until"]))
    if after:
        # `timestamp <= t` is implied by the rest; it is the term a planner can start an index range at, without
        # which SQLite gathers every older entry of the owner's proxies for each next page (D34).
        t, entry_id, at = stamp(after[0]), after[1], column("timestamp")
        term(f"{at} <= %s AND ({at} < %s OR ({at} = %s AND {column('id')} < %s))", t, t, t, entry_id)
    return Matching(" AND ".join(terms), tuple(params))


def log_entries(*, owner, filters: dict) -> QuerySet[LogEntry]:
    """`matching(ordered=False)` as a queryset, in no order: for purges, which delete in batches through the ORM."""
    found = matching(owner=owner, filters=filters, ordered=False)
    return LogEntry.objects.none() if found is None else found.queryset()


def owner_proxy_ids(owner) -> list[int]:
    """In SQL written once, as `matching`'s terms: the ORM's queryset took most of this query's time."""
    with connection.cursor() as cursor:
        cursor.execute(OWNER_PROXIES, [owner.pk])
        return [row[0] for row in cursor.fetchall()]


OWNER_PROXIES = (
    f'SELECT "id" FROM "{Proxy._meta.db_table}" WHERE "{Proxy._meta.get_field("owner").column}" = %s ORDER BY "id"'
)


def stamp(value: datetime):
    """A time as the database stores it (SQLite: text in UTC), as the ORM would pass it."""
    return connection.ops.adapt_datetimefield_value(value)


def page_query(found: Matching, size: int, select: str) -> tuple[str, tuple]:
    """The first `size` entries of `found`, newest first: `select` of each."""
    order = f"{column('timestamp')} DESC, {column('id')} DESC"
    return f'SELECT {select} FROM "{TABLE}" WHERE {found.where} ORDER BY {order} LIMIT {int(size)}', found.params


COUNT_LIMIT = 10_000  # past it a list's total is given as a lower bound ("10,000+")


def count_query(found: Matching) -> tuple[str, tuple]:
    """A bounded count of `found` (of `matching(ordered=False)`): it visits at most COUNT_LIMIT + 1 entries."""
    ids = f'SELECT {column("id")} FROM "{TABLE}" WHERE {found.where} LIMIT {COUNT_LIMIT + 1}'
    return f"SELECT COUNT(*) FROM ({ids}) AS bounded", found.params


COUNT_BUDGET = 0.025  # seconds a list's count may take before it settles for a lower bound


def bounded_count(found: Matching | None, *, at_least: int = 0) -> tuple[int, bool]:
    """(total, is_lower_bound): exact up to COUNT_LIMIT, else COUNT_LIMIT and True. A count visits every entry it
    counts, so an exact one of millions would take seconds; this one visits at most COUNT_LIMIT + 1. And it has
    COUNT_BUDGET to do it: where two filters' rows are each common but rare together, the planner may walk one
    filter's index through all of its rows; past the budget the query is interrupted and the total is
    `at_least` (what the page itself showed), a lower bound (D82)."""
    if found is None:
        return 0, False
    try:
        with time_limit(COUNT_BUDGET), connection.cursor() as cursor:
            cursor.execute(*count_query(found))
            n = cursor.fetchone()[0]
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


def matches(row: dict, filters: dict) -> bool:
    """`filters` applied to a row the writer just committed (the live stream's view of `matching`)."""
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
