"""The cache key: one pure function of what identifies a request to its provider."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from providers import form_data

# Bump when the normalisation changes, so an old entry is never served for a differently keyed request.
KEY_VERSION = b"rk1"
_UNSET = object()
# A body above this is keyed by its bytes as sent: its canonical JSON would be a third copy of it in memory, beside
# the body and its parse (D62). SDKs repeat a request byte for byte, so repeats still hit.
CANONICAL_MAX_BYTES = 1 << 20


def canonical_body(body: bytes, parsed: Any = _UNSET) -> bytes:
    """The body's JSON with keys sorted and no whitespace; the raw bytes when it is not JSON or is over
    CANONICAL_MAX_BYTES."""
    if not body:
        return b""
    if len(body) > CANONICAL_MAX_BYTES:
        return body
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
    content_type: str = "",
) -> str:
    """sha256 over method, normalised path, credential-free query pairs, version-selecting headers and
    the canonical body: a multipart form by its parts (an SDK draws a new boundary for every request),
    any other body as `canonical_body`. Every part is length-prefixed so no two different requests share
    a preimage."""
    h = hashlib.sha256(KEY_VERSION)
    headers = sorted((k.lower(), v) for k, v in headers)
    parts = [method.upper().encode(), path.encode(), str(len(query)).encode()]
    parts += [s.encode() for pair in query for s in pair]
    parts.append(str(len(headers)).encode())
    parts += [s.encode() for pair in headers for s in pair]
    form = form_data.parts(body, content_type)
    if form is None:
        parts.append(canonical_body(body, parsed))
    else:  # one part more than any other body has, so a form never shares a preimage with raw bytes
        parts += [form_data.FORM_DATA.encode(), form_data.canonical(form)]
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()
