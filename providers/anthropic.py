"""Anthropic (api.anthropic.com): the Messages API, token counting, models, message batches, and the legacy
Text Completions API (`/v1/complete`: `completion` events when streamed, no usage in its answers). A batch's
`results_url` is rewritten to the proxy's address, so its results (passed through, streamed) come through it too.

Clients use `Anthropic(base_url="http://127.0.0.1:PORT")`: the SDK's base has no `/v1`, paths start with it.
Both `x-api-key` and `Authorization: Bearer` (what anthropic>=2 sends) are forwarded unchanged.
`anthropic-version` and `anthropic-beta` select the API's behaviour, so they are part of the cache key.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

from providers import ids
from providers.base import Answer, Endpoint, Fault, Provider, Route, Usage
from providers.sse import SSEInspector

# Status -> (error.type, default message), as api.anthropic.com sends them.
ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not Found"),
    405: ("invalid_request_error", "Method Not Allowed"),
    408: ("timeout_error", "Request timed out."),
    409: ("conflict_error", "The request conflicts with the current state of the resource."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    422: ("invalid_request_error", "Unprocessable entity."),
    429: ("rate_limit_error", "Number of requests has exceeded your per-minute rate limit. Please try again later."),
    500: ("api_error", "Internal server error"),
    502: ("api_error", "Bad gateway"),
    503: ("api_error", "Service unavailable"),
    504: ("timeout_error", "Request timed out. Please try again later."),
    529: ("overloaded_error", "Overloaded"),
}
# Statuses the SDK retries by default; real answers say so explicitly in `x-should-retry`.
RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_ID_CHARS = string.ascii_letters + string.digits


def message_usage(data: dict, model: str | None = None) -> Usage:
    """Usage of a Message (or a stream's message_start / message_delta usage block).

    genai-prices counts cache reads and writes *inside* input_tokens (its own Anthropic extractor sums
    input_tokens + cache_creation_input_tokens + cache_read_input_tokens), while Anthropic reports
    them apart; so input_tokens here is that sum, the full size of the prompt."""
    usage = data.get("usage") if "usage" in data else data
    usage = usage if isinstance(usage, dict) else {}
    cache_write = usage.get("cache_creation_input_tokens")
    cache_read = usage.get("cache_read_input_tokens")
    fresh = usage.get("input_tokens")
    total = None if fresh is None else fresh + (cache_write or 0) + (cache_read or 0)
    return Usage(
        model=data.get("model") or model,
        input_tokens=total,
        output_tokens=usage.get("output_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


class MessagesInspector(SSEInspector):
    """`event: <name>` + `data:` events. Input and cache counts come in message_start, the cumulative
    output count in each message_delta (the last one wins); `event: error` fails the stream."""

    def wants(self, raw: bytes) -> bool:
        return b"message_start" in raw or b"message_delta" in raw or b"event: error" in raw

    def on_event(self, event) -> None:
        if event.event == "error":
            self.error = True
            return
        data = self.data_json(event)
        if not isinstance(data, dict):
            return
        if event.event == "message_start" and isinstance(data.get("message"), dict):
            self.usage = message_usage(data["message"])
        elif event.event == "message_delta" and isinstance(data.get("usage"), dict):
            delta = data["usage"]
            usage = self.usage or Usage()
            usage.output_tokens = delta.get("output_tokens", usage.output_tokens)
            if delta.get("input_tokens") is not None:  # newer API versions repeat the (final) input counts
                merged = message_usage({"usage": delta}, usage.model)
                usage.input_tokens = merged.input_tokens
                usage.cache_read_tokens = merged.cache_read_tokens
                usage.cache_write_tokens = merged.cache_write_tokens
            self.usage = usage


class AnthropicProvider(Provider):
    id = "anthropic"
    name = "Anthropic"
    default_upstream_url = "https://api.anthropic.com"
    pricing_provider_id = "anthropic"
    key_headers = ("anthropic-version", "anthropic-beta")
    request_id_header = "request-id"
    api_roots = ("/v1/",)
    endpoints = (
        Endpoint("POST", r"/v1/messages", "messages", stream="body"),
        Endpoint("POST", r"/v1/complete", "complete", stream="body"),
        Endpoint("POST", r"/v1/messages/count_tokens", "messages.count_tokens"),
        Endpoint("GET", r"/v1/models", "models.list"),
        Endpoint("GET", r"/v1/models/(?P<model>[^/]+)", "models.retrieve"),
        Endpoint("POST", r"/v1/messages/batches", "batches.create", cacheable=False),
        Endpoint("GET", r"/v1/messages/batches", "batches.list", cacheable=False),
        Endpoint("GET", r"/v1/messages/batches/(?P<id>[^/]+)", "batches.retrieve", cacheable=False),
        Endpoint("DELETE", r"/v1/messages/batches/(?P<id>[^/]+)", "batches.delete", cacheable=False),
        Endpoint("POST", r"/v1/messages/batches/(?P<id>[^/]+)/cancel", "batches.cancel", cacheable=False),
        # A batch's results (JSONL, as large as the batch) pass through, streamed.
    )

    def usage(self, route: Route, body: bytes) -> Usage | None:
        # count_tokens reports input_tokens too, but costs nothing: only messages are billed.
        if route.operation != "messages":
            return None
        data = self.json_object(body)
        if data is None or not isinstance(data.get("usage"), dict):
            return None
        return message_usage(data)

    def client_body(self, route: Route, body: bytes, upstream_base: str, proxy_base: str) -> bytes:
        """A batch's `results_url` names the upstream, and the SDK fetches it as it is: it names the proxy instead."""
        if not route.operation.startswith("batches."):
            return body
        results = "/v1/messages/batches/"
        return body.replace(f'"{upstream_base}{results}'.encode(), f'"{proxy_base}{results}'.encode())

    def stream_inspector(self, route: Route) -> MessagesInspector:
        return MessagesInspector()

    def new_request_id(self) -> str:
        return "req_011C" + ids.chars_id(_ID_CHARS, 20)

    def error(self, status, fault=Fault.INJECTED, *, message=None, retry_after=None, limit=None, route=None) -> Answer:
        error_type, default = ANTHROPIC_ERRORS.get(
            status, ("api_error" if status >= 500 else "invalid_request_error", "Error")
        )
        if fault is Fault.BAD_REQUEST:
            error_type = "invalid_request_error"
        request_id = self.new_request_id()
        headers = [("request-id", request_id), ("x-should-retry", "true" if status in RETRYABLE else "false")]
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        if status == 429:
            reset = (datetime.now(UTC) + timedelta(seconds=retry_after or 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            headers += [
                ("anthropic-ratelimit-requests-limit", str(limit or 50)),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", reset),
            ]
        body = {"type": "error", "error": {"type": error_type, "message": message or default}, "request_id": request_id}
        return self.json_answer(status, body, headers)


provider_classes = [AnthropicProvider]
