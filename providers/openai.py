"""OpenAI (api.openai.com) and OpenAI-compatible servers (vLLM, Ollama, OpenRouter, Groq).

Clients use `OpenAI(base_url="http://127.0.0.1:PORT/v1")`. The proxy's upstream_url is the upstream's
base URL *including* its version prefix (`https://api.openai.com/v1`, `http://localhost:11434/v1`,
`https://openrouter.ai/api/v1`), so compatible servers work by setting it alone.
"""

from __future__ import annotations

from providers.base import Answer, Endpoint, Fault, Provider, Request, Route, Usage
from providers.sse import SSEInspector

# Status -> (error.type, error.code, default message), as api.openai.com sends them.
OPENAI_ERRORS: dict[int, tuple[str | None, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("request_forbidden", "unsupported_country_region_territory", "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with the current state of the resource."),
    413: ("invalid_request_error", "request_too_large", "Request too large."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in {retry}s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}
FAULT_MESSAGES = {
    Fault.NOT_FOUND: ("invalid_request_error", None),
    Fault.METHOD_NOT_ALLOWED: ("invalid_request_error", None),
    Fault.BAD_REQUEST: ("invalid_request_error", None),
    Fault.UPSTREAM_UNREACHABLE: ("server_error", None),
    Fault.UPSTREAM_TIMEOUT: ("server_error", None),
}


def openai_error_body(status: int, fault: Fault, message: str | None, retry_after: int | None) -> dict:
    error_type, code, default = OPENAI_ERRORS.get(status, (None, None, "Error."))
    if fault in FAULT_MESSAGES:
        error_type, code = FAULT_MESSAGES[fault]
    text = (message or default).replace("{retry}", str(retry_after or 1))
    return {"error": {"message": text, "type": error_type, "param": None, "code": code}}


class ChatInspector(SSEInspector):
    """Chat and legacy completions: `data: {chunk}` lines, usage in the final chunk, `[DONE]` at the end."""

    def wants(self, raw: bytes) -> bool:
        return b'"usage"' in raw or b'"error"' in raw or b"[DONE]" in raw

    def on_event(self, event) -> None:
        if event.data.startswith("[DONE]"):
            self.done = True
            return
        data = self.data_json(event)
        if not isinstance(data, dict):
            return
        if "error" in data:
            self.error = True
        elif isinstance(data.get("usage"), dict):
            self.usage = chat_usage(data)


class ResponsesInspector(SSEInspector):
    """Responses API: typed events; usage sits in `response.completed`; `error` / `response.failed` fail."""

    def wants(self, raw: bytes) -> bool:
        return b"event: error" in raw or b"response.completed" in raw or b"response.failed" in raw

    def on_event(self, event) -> None:
        if event.event in ("error", "response.failed"):
            self.error = True
        elif event.event == "response.completed":
            self.done = True
            data = self.data_json(event)
            if isinstance(data, dict):
                self.usage = responses_usage(data.get("response") or {})


def openai_usage(route: Route, body: bytes) -> Usage | None:
    """Usage of a JSON answer of the OpenAI API (chat, completions, embeddings, responses); Azure's too."""
    data = Provider.json_object(body)
    if data is None or not isinstance(data.get("usage"), dict):
        return None
    return responses_usage(data) if route.operation.startswith("responses") else chat_usage(data)


def openai_stream_inspector(route: Route) -> SSEInspector:
    return ResponsesInspector() if route.operation == "responses" else ChatInspector()


def chat_usage(data: dict) -> Usage:
    usage = data.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        model=data.get("model"),
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cache_read_tokens=details.get("cached_tokens"),
    )


def responses_usage(data: dict) -> Usage:
    usage = data.get("usage") or {}
    details = usage.get("input_tokens_details") or {}
    return Usage(
        model=data.get("model"),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read_tokens=details.get("cached_tokens"),
    )


class OpenAIProvider(Provider):
    id = "openai"
    name = "OpenAI"
    default_upstream_url = "https://api.openai.com/v1"
    pricing_provider_id = "openai"
    client_base_path = "/v1"
    # Paths are matched after the client's "/v1" prefix; see upstream_path().
    prefix = "/v1"
    endpoints = (
        Endpoint("POST", r"/v1/chat/completions", "chat.completions", stream="body"),
        Endpoint("POST", r"/v1/completions", "completions", stream="body"),
        Endpoint("POST", r"/v1/responses", "responses", stream="body"),
        Endpoint("POST", r"/v1/responses/input_tokens", "responses.input_tokens"),
        Endpoint("GET", r"/v1/responses/(?P<id>[^/]+)", "responses.retrieve", cacheable=False),
        Endpoint("DELETE", r"/v1/responses/(?P<id>[^/]+)", "responses.delete", cacheable=False),
        Endpoint("POST", r"/v1/responses/(?P<id>[^/]+)/cancel", "responses.cancel", cacheable=False),
        Endpoint("GET", r"/v1/responses/(?P<id>[^/]+)/input_items", "responses.input_items", cacheable=False),
        Endpoint("POST", r"/v1/embeddings", "embeddings"),
        Endpoint("GET", r"/v1/models", "models.list"),
        Endpoint("GET", r"/v1/models/(?P<model>[^/]+)", "models.retrieve"),
    )

    def upstream_path(self, request: Request, route: Route) -> str:
        # upstream_url already ends with the upstream's own version prefix.
        return request.path[len(self.prefix) :] if request.path.startswith(self.prefix) else request.path

    def usage(self, route: Route, body: bytes) -> Usage | None:
        return openai_usage(route, body)

    def stream_inspector(self, route: Route) -> SSEInspector:
        return openai_stream_inspector(route)

    def error(self, status, fault=Fault.INJECTED, *, message=None, retry_after=None, limit=None, route=None) -> Answer:
        headers = [("x-request-id", self.new_request_id())]
        if status == 429:
            headers += rate_limit_headers(retry_after, limit)
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        return self.json_answer(status, openai_error_body(status, fault, message, retry_after), headers)


def rate_limit_headers(retry_after: int | None, limit: int | None = None) -> list[tuple[str, str]]:
    reset = f"{retry_after or 1}s"
    return [
        ("x-ratelimit-limit-requests", str(limit or 5000)),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", reset),
        ("x-ratelimit-limit-tokens", "160000"),
        ("x-ratelimit-remaining-tokens", "0"),
        ("x-ratelimit-reset-tokens", reset),
    ]


provider_classes = [OpenAIProvider]
