"""OpenAI (api.openai.com) and OpenAI-compatible servers (vLLM, Ollama, OpenRouter, Groq).

Clients use `OpenAI(base_url="http://127.0.0.1:PORT/v1")`. The proxy's upstream_url is the upstream's
base URL *including* its version prefix (`https://api.openai.com/v1`, `http://localhost:11434/v1`,
`https://openrouter.ai/api/v1`), so compatible servers work by setting it alone.
"""

from __future__ import annotations

from providers import form_data
from providers.base import Answer, Endpoint, Fault, Provider, Request, Route, RouteError, StreamInspector, Usage
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
    Fault.NOT_RECORDED: ("invalid_request_error", "not_recorded"),
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
                self.usage = token_usage(data.get("response") or {})


class TypedEventInspector(SSEInspector):
    """Transcription, image and speech streams: `data: {"type": ...}` events (images name them in `event:` too);
    the final event carries the usage; an `error` event or an `error` member fails the stream."""

    FINAL = ("transcript.text.done", "image_generation.completed", "image_edit.completed", "speech.audio.done")
    _FINAL_BYTES = tuple(final.encode() for final in FINAL)

    def wants(self, raw: bytes) -> bool:
        return b'"error"' in raw or any(final in raw for final in self._FINAL_BYTES)

    def on_event(self, event) -> None:
        data = self.data_json(event)
        if not isinstance(data, dict):
            return
        if data.get("type") == "error" or "error" in data:
            self.error = True
        elif data.get("type") in self.FINAL:
            self.done = True
            self.usage = token_usage(data)


class AudioInspector(StreamInspector):
    """Speech as audio bytes (mp3, opus, wav, ...): each chunk counts as one event; it carries no usage."""

    def feed(self, chunk: bytes) -> list[bytes]:
        return [chunk]


# Multipart operations whose form's `stream` field asks for events (their endpoints say stream="body").
FORM_STREAMED = frozenset({"audio.transcriptions", "images.edit"})
TYPED_EVENT_STREAMS = frozenset({"audio.transcriptions", "images.generate", "images.edit"})


def openai_route(route: Route, request: Request) -> Route:
    """Completes the generic route where OpenAI says more than a JSON body's `model` and `stream`: a multipart
    form's `model` and `stream` fields, and speech's `stream_format` (SSE events instead of audio bytes)."""
    if route.passthrough:
        return route
    if route.operation == "audio.speech":
        body = request.json if isinstance(request.json, dict) else {}
        audio_format = "sse" if body.get("stream_format") == "sse" else "audio"
        return Route(
            route.operation, route.stream, route.cacheable, route.model, {**route.params, "format": audio_format}
        )
    content_type = request.headers.get("content-type", "")
    if not form_data.is_form(content_type):
        return route
    form = form_data.parts(request.body, content_type)
    if form is None:
        raise RouteError(Fault.BAD_REQUEST, "We could not parse the multipart form of your request.", 400)
    fields = form_data.fields(form)
    stream = route.stream or (route.operation in FORM_STREAMED and fields.get("stream") == "true")
    return Route(route.operation, stream, route.cacheable, route.model or fields.get("model"), route.params)


def openai_usage(route: Route, body: bytes) -> Usage | None:
    """Usage of a JSON answer of the OpenAI API; Azure's too. Chat, completions and embeddings count
    prompt_tokens; responses, images and transcriptions input_tokens; whisper-1 reports seconds only."""
    data = Provider.json_object(body)
    if data is None or not isinstance(data.get("usage"), dict):
        return None
    if "prompt_tokens" in data["usage"]:
        return chat_usage(data)
    return token_usage(data)


def openai_stream_inspector(route: Route) -> StreamInspector:
    if route.operation == "responses":
        return ResponsesInspector()
    if route.operation in TYPED_EVENT_STREAMS or route.params.get("format") == "sse":
        return TypedEventInspector()
    if route.operation == "audio.speech":
        return AudioInspector()
    return ChatInspector()


def chat_usage(data: dict) -> Usage:
    usage = data.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        model=data.get("model"),
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cache_read_tokens=details.get("cached_tokens"),
    )


def token_usage(data: dict) -> Usage | None:
    """Usage in input/output tokens (responses, images, transcriptions, speech); None when it has no tokens."""
    usage = data.get("usage")
    if not isinstance(usage, dict) or (usage.get("input_tokens") is None and usage.get("output_tokens") is None):
        return None
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
    api_roots = ("/v1/",)
    websockets = (("Realtime", "/v1/realtime"),)
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
        Endpoint("POST", r"/v1/moderations", "moderations"),
        Endpoint("POST", r"/v1/images/generations", "images.generate", stream="body"),
        # Multipart forms: their `model` and `stream` fields count as a JSON body's would (openai_route).
        Endpoint("POST", r"/v1/images/edits", "images.edit", stream="body"),
        Endpoint("POST", r"/v1/images/variations", "images.create_variation"),
        Endpoint("POST", r"/v1/audio/transcriptions", "audio.transcriptions", stream="body"),
        Endpoint("POST", r"/v1/audio/translations", "audio.translations"),
        # Audio bytes are relayed as they are made (chunked), never held back until the whole file is there.
        Endpoint("POST", r"/v1/audio/speech", "audio.speech", stream="always"),
        Endpoint("GET", r"/v1/models", "models.list"),
        Endpoint("GET", r"/v1/models/(?P<model>[^/]+)", "models.retrieve"),
    )

    def route(self, request: Request) -> Route:
        return openai_route(super().route(request), request)

    def upstream_path(self, request: Request, route: Route) -> str:
        # upstream_url already ends with the upstream's own version prefix.
        return request.path[len(self.prefix) :] if request.path.startswith(self.prefix) else request.path

    def usage(self, route: Route, body: bytes) -> Usage | None:
        return openai_usage(route, body)

    def stream_inspector(self, route: Route) -> StreamInspector:
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
