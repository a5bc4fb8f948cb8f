"""The cache key: one pure function of what identifies a request to its provider."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# Bump when the normalisation changes, so an old entry is never served for a differently keyed request.
KEY_VERSION = b"rk1"
_UNSET = object()


def canonical_body(body: bytes, parsed: Any = _UNSET) -> bytes:
    """The body's JSON with keys sorted and no whitespace; the raw bytes when it is not JSON."""
    if not body:
        return b""
    if parsed is _UNSET:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
    if parsed is None and body.strip() != b"null":
        return body
    try:
        return orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # e.g. an integer beyond 64 bits: key on the raw bytes
        return body


def cache_key(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: bytes,
    parsed: Any = _UNSET,
) -> str:
    """sha256 over method, normalised path, credential-free query pairs, version-selecting headers and
    the canonical body. Every part is length-prefixed so no two different requests share a preimage."""
    headers = sorted((k.lower(), v) for k, v in headers)
    parts = [method.upper(), path, str(len(query)), *(s for pair in query for s in pair), str(len(headers))]
    parts += [s for pair in headers for s in pair]
    encoded = [s.encode() for s in parts]
    encoded.append(canonical_body(body, parsed))
    return hashlib.sha256(KEY_VERSION + b"".join(len(p).to_bytes(8, "big") + p for p in encoded)).hexdigest()
