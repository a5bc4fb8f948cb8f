"""The one exception the client raises, built from the server's error answer (docs/api.md, "Errors")."""

from __future__ import annotations

import json
from collections.abc import Mapping


class RubberduckError(Exception):
    """An error answer of the Rubberduck server, or no answer at all.

    `status` is the HTTP status of the error answer (None when there was none: the server was unreachable, or a
    proxy could not start), `message` the server's own words, `field_errors` each invalid field's messages by its
    path (`port`, `errors[0].rate`, `proxies[2].failures.seed`), `code` the server's error code when it gave one.
    """

    def __init__(
        self,
        status: int | None,
        message: str,
        field_errors: Mapping[str, list[str]] | None = None,
        code: str | None = None,
    ):
        self.status = status
        self.message = message
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})
        self.code = code
        super().__init__(f"{status} {message}" if status is not None else message)


def error_of(status: int, body: bytes, reason: str = "") -> RubberduckError:
    """The server's error answer as a RubberduckError. Its shapes: {"detail", "code"}; a field error map
    ({"port": ["..."], "errors": [{"rate": ["..."]}]}); a declaration's {"detail", "errors": [{"path", "message"}]}."""
    try:
        data = json.loads(body)
    except ValueError:
        return RubberduckError(status, body.decode(errors="replace").strip()[:500] or reason)
    if isinstance(data, Mapping) and isinstance(data.get("detail"), str):
        listed = data.get("errors")
        field_errors: dict[str, list[str]] = {}
        if isinstance(listed, list):
            for item in listed:
                if isinstance(item, Mapping):
                    field_errors.setdefault(str(item.get("path", "")), []).append(str(item.get("message", "")))
        return RubberduckError(status, data["detail"], field_errors, data.get("code"))
    field_errors = flatten(data)
    message = "; ".join(
        f"{path}: {' '.join(texts)}" if path else " ".join(texts) for path, texts in field_errors.items()
    )
    return RubberduckError(status, message or reason, field_errors, "invalid")


def flatten(detail: object, path: str = "") -> dict[str, list[str]]:
    """DRF's nested field errors by path: {"errors": [{}, {"rate": ["..."]}]} is {"errors[1].rate": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if key == "non_field_errors":
                sub = path
            elif isinstance(key, int) or str(key).isdigit():  # a list item's errors, by its index
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            for name, texts in flatten(value, sub).items():
                out.setdefault(name, []).extend(texts)
    elif isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        for index, item in enumerate(detail):
            for name, texts in flatten(item, f"{path}[{index}]").items():
                out.setdefault(name, []).extend(texts)
    elif isinstance(detail, list):
        out[path] = [str(item) for item in detail]
    else:
        out[path] = [str(detail)]
    return out
