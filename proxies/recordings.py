"""Recording files: a proxy's cache as JSON lines, to keep in git and replay offline (docs/recordings.md).

Line 1 is a header, then one entry per line sorted by key, each serialised with sorted keys: a re-recording of the
same calls differs only where an answer or its recorded_at did. Nothing of a request is written but its method,
its path without credential parameters and its model; of an answer only the headers a replay needs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import orjson

from providers.base import CREDENTIAL_PARAMS
from proxies.cache_key import KEY_VERSION

FORMAT = 1
MEDIA_TYPE = "application/x-ndjson"
KEY_VERSION_NAME = KEY_VERSION.decode()
SUFFIX = ".rubberduck.jsonl"

# Of an answer's headers, a replay needs its content type and the token counts some providers send as headers
# (Bedrock InvokeModel); all others are per answer (ids, rate limits, timings) or could be personal (cookies).
_TOKEN_COUNT_HEADER = re.compile(r"^x-amzn-bedrock-[a-z-]*token-count$")
# Query parameters never written: credentials by name (providers.base.CREDENTIAL_PARAMS) or by their look.
_CREDENTIAL_PARAM = re.compile(r"key|token|secret|signature|credential|password|^sig$|^x-amz-", re.IGNORECASE)

ENTRY_FIELDS = {"key", "method", "path", "model", "status", "headers", "chunks", "usage", "recorded_at"}
USAGE_FIELDS = {"model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"}
_KEY = re.compile(r"^[0-9a-f]{64}$")


def replay_headers(headers: Iterable) -> list[list[str]]:
    """The headers of an answer that a recording keeps (see _TOKEN_COUNT_HEADER), lower-case names."""
    kept = []
    for name, value in headers:
        name = name.lower()
        if name == "content-type" or _TOKEN_COUNT_HEADER.match(name):
            kept.append([name, value])
    return kept


def safe_path(path: str, query: str) -> str:
    """A request's path with its query, credential parameters removed (a Gemini `?key=`, a SAS `sig=`)."""
    if not query:
        return path[:500]
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
             if k.lower() not in CREDENTIAL_PARAMS and not _CREDENTIAL_PARAM.search(k)]  # fmt: skip
    return (f"{path}?{urlencode(pairs)}" if pairs else path)[:500]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def header_line(provider: str, entries: int) -> bytes:
    header = {
        "rubberduck_recording": FORMAT,
        "provider": provider,
        "key_version": KEY_VERSION_NAME,
        "exported_at": iso(datetime.now(UTC)),
        "entries": entries,
    }
    return orjson.dumps(header, option=orjson.OPT_SORT_KEYS) + b"\n"


def entry_line(row: dict) -> bytes:
    """One stored answer (a dict of CacheEntry columns) as its line."""
    body = bytes(row["body"])
    entry = {
        "key": row["key"],
        "method": row["method"],
        "path": row["path"],
        "model": row["model"],
        "status": row["status"],
        "headers": replay_headers(row["headers"] or []),
        "chunks": row["chunks"],
        "usage": row["usage"],
        "recorded_at": iso(row["created_at"]),
    }
    try:
        entry["body"] = body.decode()
    except UnicodeDecodeError:
        entry["body_base64"] = base64.b64encode(body).decode()
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"


class RecordingError(Exception):
    """A file that cannot be imported: `line` is where (1 is the header), the message says why."""

    def __init__(self, line: int, reason: str):
        super().__init__(f"Line {line}: {reason}")
        self.line = line


@dataclass(slots=True)
class Recorded:
    """One validated entry of a file, as a CacheEntry row takes it."""

    key: str
    method: str
    path: str
    model: str
    status: int
    headers: list
    body: bytes
    chunks: list | None
    usage: dict | None
    recorded_at: datetime

    def answer(self) -> tuple:
        """What decides whether two recordings of a key are the same answer."""
        return self.status, self.headers, self.body, self.chunks, self.usage


def check_header(line: bytes, provider: str) -> int:
    """The number of entries the file's header announces; RecordingError when it is no recording for `provider`."""
    header = parse(line, 1)
    if header.get("rubberduck_recording") != FORMAT:
        raise RecordingError(1, f"not a Rubberduck recording of format {FORMAT} (rubberduck_recording).")
    if header.get("key_version") != KEY_VERSION_NAME:
        raise RecordingError(
            1, f"key_version {header.get('key_version')!r} is not this server's ({KEY_VERSION_NAME!r}): record again."
        )
    if header.get("provider") != provider:
        raise RecordingError(1, f"recorded for provider {header.get('provider')!r}, not this proxy's {provider!r}.")
    entries = header.get("entries")
    if not isinstance(entries, int) or isinstance(entries, bool) or entries < 0:
        raise RecordingError(1, "entries must be a whole number.")
    return entries


def parse(line: bytes, n: int) -> dict:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise RecordingError(n, f"not JSON ({e}).") from None
    if not isinstance(value, dict):
        raise RecordingError(n, "a JSON object is required.")
    return value


def _text(entry: dict, name: str, n: int, max_length: int) -> str:
    value = entry.get(name)
    if not isinstance(value, str):
        raise RecordingError(n, f"{name} must be a string.")
    if len(value) > max_length:
        raise RecordingError(n, f"{name} is longer than {max_length} characters.")
    if "\x00" in value:  # no database column takes it
        raise RecordingError(n, f"{name} holds a NUL character.")
    return value


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _usage(usage) -> bool:
    if not isinstance(usage, dict) or not usage.keys() <= USAGE_FIELDS:
        return False
    for name, value in usage.items():
        if value is None:
            continue
        if name == "model":
            if not isinstance(value, str) or "\x00" in value or len(value) > 200:
                return False
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 53:
            return False
    return True


def check_entry(line: bytes, n: int) -> Recorded:
    entry = parse(line, n)
    bodies = [name for name in ("body", "body_base64") if name in entry]
    missing = sorted(ENTRY_FIELDS - entry.keys()) + ([] if bodies else ["body"])
    if missing:
        raise RecordingError(n, f"missing field(s): {', '.join(missing)}.")
    unknown = sorted(entry.keys() - ENTRY_FIELDS - {"body", "body_base64"})
    if unknown:
        raise RecordingError(n, f"unknown field(s): {', '.join(unknown)}.")
    if len(bodies) == 2:
        raise RecordingError(n, "body and body_base64 are exclusive.")
    key = _text(entry, "key", n, 64)
    if not _KEY.match(key):
        raise RecordingError(n, "key must be 64 lower-case hex digits.")
    status = entry["status"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise RecordingError(n, "status must be an HTTP status (100-599).")
    headers = entry["headers"]
    if not isinstance(headers, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(s, str) and "\x00" not in s for s in h) for h in headers
    ):
        raise RecordingError(n, "headers must be a list of [name, value] strings.")
    if "body" in entry:
        if not isinstance(entry["body"], str):
            raise RecordingError(n, "body must be a string.")
        body = entry["body"].encode()
    else:
        try:
            body = base64.b64decode(_text(entry, "body_base64", n, 1 << 31), validate=True)
        except (binascii.Error, ValueError) as e:
            raise RecordingError(n, f"body_base64 is not base64 ({e}).") from None
    chunks = entry["chunks"]
    if chunks is not None:
        if not isinstance(chunks, list) or not all(
            isinstance(c, list) and len(c) == 2 and _number(c[0]) and isinstance(c[1], int) and _number(c[1])
            for c in chunks
        ):
            raise RecordingError(n, "chunks must be null or a list of [offset_ms, length] numbers.")
        if sum(c[1] for c in chunks) != len(body):
            raise RecordingError(n, "the chunks' lengths do not add up to the body's.")
    usage = entry["usage"]
    if usage is not None and not _usage(usage):
        raise RecordingError(
            n, f"usage must be null or an object of {', '.join(sorted(USAGE_FIELDS))} (whole numbers, model a string)."
        )
    try:
        recorded_at = datetime.fromisoformat(_text(entry, "recorded_at", n, 64))
    except ValueError:
        raise RecordingError(n, "recorded_at must be an ISO 8601 date and time.") from None
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return Recorded(
        key=key,
        method=_text(entry, "method", n, 10),
        path=_text(entry, "path", n, 500),
        model=_text(entry, "model", n, 200),
        status=status,
        headers=replay_headers(headers),
        body=body,
        chunks=chunks,
        usage=usage,
        recorded_at=recorded_at,
    )


def read(lines: Iterable[bytes], provider: str) -> Iterator[Recorded]:
    """The entries of a file, each checked as it is read; RecordingError at the first that is wrong (blank lines
    are skipped; a key twice, or another count of entries than the header says, is wrong too)."""
    announced = None
    seen: set[str] = set()
    n = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if announced is None:
            announced = check_header(line, provider)
            continue
        entry = check_entry(line, n)
        if entry.key in seen:
            raise RecordingError(n, f"key {entry.key} is in the file twice.")
        seen.add(entry.key)
        yield entry
    if announced is None:
        raise RecordingError(1, "the file is empty: a header line is required.")
    if len(seen) != announced:
        raise RecordingError(n + 1, f"the header announces {announced} entries, the file has {len(seen)}.")
