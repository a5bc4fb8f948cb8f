"""What the commands print: tables and short lines for people, JSON for scripts, one line per error."""

import json
from collections.abc import Sequence
from typing import Any

import click

from rubberduck_client import RubberduckError

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's own shape).")


def one_line(error: RubberduckError) -> str:
    """The server's message with each field error not already in it (`path: message`)."""
    found = [f"{path}: {' '.join(texts)}" if path else " ".join(texts) for path, texts in error.field_errors.items()]
    missing = [text for text in found if text not in error.message]
    return " ".join([error.message.rstrip(), "; ".join(missing)]).strip() if missing else error.message


def emit(as_json: bool, data: Any, text: str = "") -> None:
    """`data` as JSON for scripts, else `text` for people."""
    click.echo(json.dumps(data) if as_json else text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def fields(data: dict[str, Any]) -> str:
    """`key: value` lines; lists joined, absent values as `-`."""
    width = max(len(key) for key in data)

    def shown(value):
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "-"
        return "-" if value in (None, "") else value

    return "\n".join(f"{key.ljust(width)}  {shown(value)}" for key, value in data.items())
