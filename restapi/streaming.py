"""Streamed downloads that stream under the real (ASGI) server too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

_END = object()


def streaming_response(request, parts: Iterator[bytes], content_type: str) -> StreamingHttpResponse:
    """A response sending `parts` as they are made. Under ASGI they come through an async iterator, each read on
    the request's own worker thread (thread-sensitive: the one its view ran on, holding its DB connection, so a
    cursor never changes threads): Django's ASGI handler reads a sync iterator whole before its first byte (D83)."""
    wrapped = getattr(request, "_request", request)
    content = each_on_the_request_thread(parts) if isinstance(wrapped, ASGIRequest) else parts
    return StreamingHttpResponse(content, content_type=content_type)


async def each_on_the_request_thread(parts: Iterator[bytes]) -> AsyncIterator[bytes]:
    step = sync_to_async(next, thread_sensitive=True)
    while (part := await step(parts, _END)) is not _END:
        yield part
