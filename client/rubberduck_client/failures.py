"""A failure config from keyword arguments (the shape is the server's: docs/failures.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict


class FailureParts(TypedDict, total=False):
    """The parts of a failure config; `errors` may also be {status: rate}, e.g. {429: 1.0}."""

    errors: Mapping[int, float] | list[Mapping[str, Any]]
    timeout: Mapping[str, Any]
    ip_allow: list[str]
    ip_block: list[str]
    rpm_limit: int | None
    stream: Mapping[str, Any]
    seed: int | None


def failure_config(config: Mapping[str, Any] | None = None, **parts: Any) -> dict[str, Any]:
    """`config` with `parts` over it; `errors={429: 1.0}` is `errors=[{"status": 429, "rate": 1.0}]`. The server
    validates the result."""
    merged = {**(config or {}), **parts}
    errors = merged.get("errors")
    if isinstance(errors, Mapping):
        merged["errors"] = [{"status": status, "rate": rate} for status, rate in errors.items()]
    return merged
