"""Log entries read as the database gives them, turned into the API's shape without model objects.

Django's per-value converters (a parsed datetime made aware, a Decimal quantized) and a model instance per
row were most of a list page's and an export's time (D86); the few conversions the API needs are done here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection

from logs.models import ENTRY_COLUMNS, ENTRY_FIELDS
from logs.selectors import COST, Matching, column, iso, page_query


def page(found: Matching | None, size: int, select: str | None = None) -> list[tuple]:
    """The first `size` entries of `found` (None: nothing), newest first, raw: by default ENTRY_COLUMNS, the
    timestamp read on SQLite as its text."""
    if found is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(*page_query(found, size, select or entry_columns()))
        return cursor.fetchall()


def entry_columns() -> str:
    return ", ".join(
        f"CAST({column(c)} AS text)" if c == "timestamp" and connection.vendor == "sqlite" else column(c)
        for c in ENTRY_COLUMNS
    )


def iso_of(value) -> str:
    """A timestamp as read raw: SQLite's text ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC) rewritten without parsing it,
    PostgreSQL's aware datetime formatted."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}{value[19:26] or '.000000'}Z"
    return iso(datetime_of(value))


def datetime_of(value) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rows_of(values: list[tuple]) -> list[tuple]:
    """Rows of ENTRY_COLUMNS as the API gives them: the time in ISO 8601 UTC, the cost a float (rounded to the
    column's 8 places, as the model field reads it)."""
    return [
        (v[0], iso_of(v[1]), *v[2:COST], None if v[COST] is None else round(float(v[COST]), 8), *v[COST + 1 :])
        for v in values
    ]


def entries_of(values: list[tuple]) -> list[dict]:
    """Raw rows of ENTRY_COLUMNS as the API's entries (ENTRY_FIELDS)."""
    return [dict(zip(ENTRY_FIELDS, row, strict=True)) for row in rows_of(values)]
