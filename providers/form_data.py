"""multipart/form-data bodies (OpenAI's audio and image uploads): their parts, read with the `multipart` library.

The stdlib email parser reads ~70 ms per MB on the proxy's event loop; `multipart` finds boundaries with
bytes.find, ~1 ms per MB. A part's bytes are slices of the body, never written to disk.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import orjson
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

FORM_DATA = "multipart/form-data"
# A form field worth reading as text (a model name, a flag); larger parts are files.
MAX_FIELD_BYTES = 1024


class Part(NamedTuple):
    name: str | None
    filename: str | None
    content_type: str | None
    content: bytes


def is_form(content_type: str) -> bool:
    return content_type[: len(FORM_DATA)].lower() == FORM_DATA


def parts(body: bytes, content_type: str) -> list[Part] | None:
    """The parts of a multipart/form-data body in order; None when the body is not one or is malformed."""
    if not is_form(content_type):
        return None
    boundary = parse_options_header(content_type)[1].get("boundary")
    if not boundary:
        return None
    found: list[Part] = []
    segment: MultipartSegment | None = None
    chunks: list[bytes] = []
    try:
        with PushMultipartParser(boundary) as parser:
            for event in parser.parse(body):
                if isinstance(event, MultipartSegment):
                    segment, chunks = event, []
                elif event is not None:
                    chunks.append(event)
                elif segment is not None:
                    found.append(Part(segment.name, segment.filename, segment.content_type, b"".join(chunks)))
    except MultipartError:
        return None
    return found


def fields(form: list[Part]) -> dict[str, str]:
    """The text fields of a form (parts without a filename), the first of each name."""
    found: dict[str, str] = {}
    for part in form:
        if part.filename is None and part.name and len(part.content) <= MAX_FIELD_BYTES:
            found.setdefault(part.name, part.content.decode("utf-8", "replace"))
    return found


def canonical(form: list[Part]) -> bytes:
    """What identifies a form, without its random boundary: each part's name, filename, content type and
    sha256, ordered by name. Parts of one name keep their order (an array's items, e.g. `include[]`)."""
    ordered = sorted(form, key=lambda part: part.name or "")
    return orjson.dumps([[p.name, p.filename, p.content_type, hashlib.sha256(p.content).hexdigest()] for p in ordered])
