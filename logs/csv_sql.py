"""A log entry's CSV line, written by the database (D105).

The export's CSV is RFC 4180 as Python's csv module writes it (a field is quoted only when it holds a comma, a
double quote or a line break; a quote inside is doubled; no value is empty), with times in ISO 8601 UTC to the
microsecond and decimals without trailing zeros (`latency_ms` to 3 places, `cost_usd` to 8). Built in SQL, a
row reaches Python as one string: formatting 17 values a row in Python was most of an export's CPU, and the
database does it in C, on SQLite outside the GIL, on PostgreSQL in its own process.
"""

from __future__ import annotations

from logs.models import ENTRY_COLUMNS
from logs.selectors import column

TEXT = {"ip", "method", "path", "model"}  # from the client or the upstream: quoted where they need it
# Written by the proxy itself from fixed values (a hex digest, the model's choices): never a comma, a quote or a
# line break, so not looked into; checking 4 characters in each was a sixth of an export's time on SQLite.
PLAIN_TEXT = {"prompt_hash", "cache", "failure"}
DECIMAL_PLACES = {"latency_ms": 3, "cost_usd": 8}


class Dialect:
    """The few functions the two databases spell differently."""

    def __init__(self, vendor: str):
        self.vendor = vendor
        self.position, self.char = ("instr", "char") if vendor == "sqlite" else ("strpos", "chr")

    def timestamp(self, column: str) -> str:
        if self.vendor == "sqlite":  # stored as "YYYY-MM-DD HH:MM:SS[.ffffff]", UTC (Django's text)
            return (
                f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || "
                f"CASE WHEN length({column}) > 19 THEN substr({column}, 20, 7) ELSE '.000000' END || 'Z'"
            )
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

    def decimal(self, column: str, places: int) -> str:
        fixed = (
            f"printf('%.{places}f', {column})"
            if self.vendor == "sqlite"
            else f"CAST(round(CAST({column} AS numeric), {places}) AS text)"
        )
        trimmed = f"rtrim(rtrim({fixed}, '0'), '.')"  # the fixed form always has its point: only zeros after it go
        return f"CASE WHEN {column} IS NOT NULL THEN {trimmed} END"  # SQLite's printf reads NULL as 0

    def quoted(self, column: str) -> str:
        special = " OR ".join(
            f"{self.position}({column}, {s}) > 0" for s in ("','", "'\"'", f"{self.char}(10)", f"{self.char}(13)")
        )
        return f"""CASE WHEN {special} THEN '"' || replace({column}, '"', '""') || '"' ELSE {column} END"""


def csv_line(vendor: str) -> str:
    """The SQL of one entry's CSV line (ENTRY_COLUMNS in order, no line break) over the log table."""
    dialect = Dialect(vendor)
    fields = []
    for name in ENTRY_COLUMNS:
        value = column(name)
        if name == "timestamp":
            sql = dialect.timestamp(value)
        elif name in DECIMAL_PLACES:
            sql = dialect.decimal(value, DECIMAL_PLACES[name])
        elif name in TEXT:
            sql = dialect.quoted(value)
        elif name in PLAIN_TEXT:
            sql = value
        else:
            sql = f"CAST({value} AS text)"
        fields.append(f"COALESCE({sql}, '')")  # NULL: an empty field (and `||` with NULL is NULL)
    return " || ',' || ".join(fields)
