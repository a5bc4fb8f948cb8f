"""What Vertex AI and the Gemini Developer API share: the generateContent wire format, usageMetadata, the
alt=sse stream, and google.rpc.Status errors. No `provider_classes` here: vertex.py and gemini.py register.

Both APIs put the model and the operation in the path (`.../models/{model}:{method}`), so an operation is
one Endpoint per path prefix and method, and streaming is decided by the method (`streamGenerateContent`),
never by the body.
"""

from __future__ import annotations

import orjson

from providers.base import Answer, Endpoint, Fault, Provider, Request, Route, RouteError, Usage
from providers.sse import SSEInspector, parse_event

# google.rpc.Code names by HTTP status, as Google's front ends map them (google/rpc/code.proto). 408 and 413
# have no canonical code: Google reports a deadline as DEADLINE_EXCEEDED and an oversized payload as
# INVALID_ARGUMENT ("Request payload size exceeds the limit"), so those names are used. 405 is answered by
# Google's front end for a known path with the wrong verb; grpc-gateway names it UNIMPLEMENTED, as here.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "Deadline expired before operation could complete.",
    409: "The operation was aborted.",
    413: "Request payload size exceeds the limit: 20971520 bytes.",
    429: "Resource exhausted. Please try again later.",
    499: "The operation was cancelled.",
    500: "Internal error encountered.",
    501: "Operation is not implemented, or supported, or enabled.",
    502: "The service is currently unavailable.",
    503: "The service is currently unavailable.",
    504: "Deadline expired before operation could complete.",
}
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION")


def error_answer(status: int, message: str, details: list[dict] | None = None) -> Answer:
    """A google.rpc.Status answer, pretty-printed the way Google's front ends send it."""
    error: dict = {"code": status, "message": message, "status": status_name(status)}
    if details:
        error["details"] = details
    body = orjson.dumps({"error": error}, option=orjson.OPT_INDENT_2) + b"\n"
    headers = [("content-type", JSON_CONTENT_TYPE), ("vary", "Origin, X-Origin, Referer")]
    return Answer(status, headers, body)


def retry_info(seconds: int) -> dict:
    return {"@type": RETRY_INFO, "retryDelay": f"{seconds}s"}


def usage_of(data: dict) -> Usage | None:
    """Tokens from a generateContent / embedContent answer, mapped as genai-prices' own extractor maps them:
    tool-use prompt tokens are input, thinking tokens are billed as output, cached tokens sit inside input."""
    meta = data.get("usageMetadata")
    if not isinstance(meta, dict):
        return None
    prompt, tool = meta.get("promptTokenCount"), meta.get("toolUsePromptTokenCount")
    candidates, thoughts = meta.get("candidatesTokenCount"), meta.get("thoughtsTokenCount")
    model = data.get("modelVersion")
    return Usage(
        model=model if isinstance(model, str) else None,
        input_tokens=None if prompt is None and tool is None else (prompt or 0) + (tool or 0),
        output_tokens=None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0),
        cache_read_tokens=meta.get("cachedContentTokenCount"),
    )


def predict_usage(data: dict) -> Usage | None:
    """Vertex `:predict` text embeddings: tokens per instance in predictions[].embeddings.statistics."""
    counts = [
        ((p.get("embeddings") or {}).get("statistics") or {}).get("token_count")
        for p in data.get("predictions") or ()
        if isinstance(p, dict)
    ]
    counts = [c for c in counts if isinstance(c, int | float)]
    return Usage(input_tokens=int(sum(counts))) if counts else None


class GenerateContentInspector(SSEInspector):
    """alt=sse: every event is `data: <GenerateContentResponse>` + CRLF CRLF. Every event carries
    usageMetadata and the last one is complete, so only the last is kept and parsed when `usage` is read:
    a long stream costs one parse, not one per chunk. An event whose JSON is `{"error": ...}` makes the SDK
    raise mid-stream: such a stream is never cached."""

    def __init__(self):
        self._last_usage_event: bytes | None = None
        super().__init__()

    @property
    def usage(self) -> Usage | None:
        if self._last_usage_event is not None:
            event = parse_event(self._last_usage_event)
            data = self.data_json(event) if event is not None else None
            self._usage = usage_of(data) if isinstance(data, dict) else None
            self._last_usage_event = None
        return self._usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._usage, self._last_usage_event = value, None

    def wants(self, raw: bytes) -> bool:
        if b'"usageMetadata"' in raw:
            self._last_usage_event = raw
        return b'"error"' in raw

    def on_event(self, event) -> None:
        data = self.data_json(event)
        if isinstance(data, dict) and "error" in data:
            self.error = True


METHODS = (
    ("generateContent", "never"),
    ("streamGenerateContent", "always"),
    ("countTokens", "never"),
    ("computeTokens", "never"),
    ("embedContent", "never"),
    ("batchEmbedContents", "never"),
    ("predict", "never"),
)


def model_endpoints(prefix: str, methods=METHODS) -> tuple[Endpoint, ...]:
    """`POST {prefix}:{method}` for every method; `prefix` must capture the model as (?P<model>...)."""
    return tuple(Endpoint("POST", rf"{prefix}:{name}", name, stream=stream) for name, stream in methods)


class GoogleProvider(Provider):
    """The shared behaviour; subclasses set id, name, upstream and endpoints."""

    pricing_provider_id = "google"  # genai-prices has one "google" provider for both APIs
    # Google sends no request-id header (the body's responseId names an answer, and a replay serves the
    # recorded body unchanged); the SDK reads no response header. The generic x-request-id marks each answer.
    request_id_header = "x-request-id"
    messages: dict[int, str] = MESSAGES

    def route(self, request: Request) -> Route:
        try:
            return super().route(request)
        except RouteError as e:
            raise RouteError(e.fault, self.route_message(e, request), e.status) from None

    @staticmethod
    def route_message(e: RouteError, request: Request) -> str:
        path = request.path
        if e.fault is Fault.NOT_FOUND:
            return f"The requested URL {path} was not found on this server."
        if e.fault is Fault.METHOD_NOT_ALLOWED:
            return f"The request method {request.method} is inappropriate for the URL {path}."
        if e.fault is Fault.BAD_REQUEST:
            return "Invalid JSON payload received. Unexpected token."
        return e.message

    def usage(self, route: Route, body: bytes) -> Usage | None:
        # countTokens / computeTokens are free: only generation and embeddings are billed.
        if route.operation in ("countTokens", "computeTokens"):
            return None
        data = self.json_object(body)
        if data is None:
            return None
        return predict_usage(data) if route.operation == "predict" else usage_of(data)

    def stream_inspector(self, route: Route) -> GenerateContentInspector:
        return GenerateContentInspector()

    def error_details(self, status: int, retry_after: int | None, limit: int | None) -> list[dict]:
        return [retry_info(retry_after)] if retry_after is not None else []

    def error(self, status, fault=Fault.INJECTED, *, message=None, retry_after=None, limit=None, route=None) -> Answer:
        text = message or self.messages.get(status) or MESSAGES.get(status) or "Unknown error."
        return error_answer(status, text, self.error_details(status, retry_after, limit))
