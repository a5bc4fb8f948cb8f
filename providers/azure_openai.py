"""Azure OpenAI: one proxy per resource (`https://RES.openai.azure.com`), so upstream_url is required.

Two wire styles are served on the same port:
* classic: `AzureOpenAI(azure_endpoint="http://127.0.0.1:PORT", api_version=...)` calls
  `/openai/deployments/{deployment}/chat/completions?api-version=...` (also completions, embeddings, images,
  audio), `/openai/responses?api-version=...` and `/openai/models?api-version=...`;
* v1 GA: `OpenAI(base_url="http://127.0.0.1:PORT/openai/v1/")` calls `/openai/v1/chat/completions` etc.
The deployment (path) and the api-version (query) are part of the cache key; `api-key` and Entra
`Authorization: Bearer` headers are forwarded unchanged. Bodies, streams and usage are OpenAI's.
"""

from __future__ import annotations

from providers import ids
from providers.base import (
    Answer,
    Endpoint,
    Fault,
    Provider,
    Refusal,
    Request,
    Route,
    StreamInspector,
    UpstreamRequest,
    Usage,
)
from providers.openai import openai_error_body, openai_route, openai_stream_inspector, openai_usage

_DEPLOYMENT = r"/openai/deployments/(?P<model>[^/]+)"
# Operation names as Azure quotes them in its 429 messages.
_AZURE_OPERATIONS = {
    "chat.completions": "ChatCompletions_Create",
    "completions": "Completions_Create",
    "embeddings": "Embeddings_Create",
    "responses": "Responses_Create",
    "audio.transcriptions": "Audio_Transcriptions",
}
# Status -> (error.code, message) in Azure's own `{"error": {"code", "message"}}` shape.
AZURE_ERRORS: dict[int, tuple[str, str]] = {
    401: (
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "
        "an active subscription and use a correct regional API endpoint for your resource.",
    ),
    403: ("403", "Access denied due to Virtual Network/Firewall rules."),
    404: ("404", "Resource not found"),
    405: ("405", "Method not allowed"),
    408: ("Timeout", "The operation was timeout."),
    413: ("413", "The request body is too large."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unable to process your request. Please try again later."),
    504: ("Timeout", "The operation was timeout."),
}
# An injected 400 is Azure's most characteristic one: the prompt was caught by the content filter.
CONTENT_FILTER_400 = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
        "Please modify your prompt and retry. To learn more about our content filtering policies please read our "
        "documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "jailbreak": {"filtered": False, "detected": False},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "medium"},
            },
        },
    }
}


def _endpoints() -> tuple[Endpoint, ...]:
    classic = (
        Endpoint("POST", _DEPLOYMENT + r"/chat/completions", "chat.completions", stream="body"),
        Endpoint("POST", _DEPLOYMENT + r"/completions", "completions", stream="body"),
        Endpoint("POST", _DEPLOYMENT + r"/embeddings", "embeddings"),
        Endpoint("POST", _DEPLOYMENT + r"/images/generations", "images.generate", stream="body"),
        # Multipart forms, and speech's audio bytes, as on OpenAI (providers.openai.openai_route).
        Endpoint("POST", _DEPLOYMENT + r"/images/edits", "images.edit", stream="body"),
        Endpoint("POST", _DEPLOYMENT + r"/audio/transcriptions", "audio.transcriptions", stream="body"),
        Endpoint("POST", _DEPLOYMENT + r"/audio/translations", "audio.translations"),
        Endpoint("POST", _DEPLOYMENT + r"/audio/speech", "audio.speech", stream="always"),
    )
    shared = []  # the same OpenAI operations under /openai (classic) and /openai/v1 (GA)
    for prefix in ("/openai", "/openai/v1"):
        shared += [
            Endpoint("POST", prefix + r"/responses", "responses", stream="body"),
            Endpoint("POST", prefix + r"/responses/input_tokens", "responses.input_tokens"),
            Endpoint("GET", prefix + r"/responses/(?P<id>[^/]+)", "responses.retrieve", cacheable=False),
            Endpoint("DELETE", prefix + r"/responses/(?P<id>[^/]+)", "responses.delete", cacheable=False),
            Endpoint("POST", prefix + r"/responses/(?P<id>[^/]+)/cancel", "responses.cancel", cacheable=False),
            Endpoint("GET", prefix + r"/responses/(?P<id>[^/]+)/input_items", "responses.input_items", cacheable=False),
            Endpoint("GET", prefix + r"/models", "models.list"),
            Endpoint("GET", prefix + r"/models/(?P<model>[^/]+)", "models.retrieve"),
        ]
    v1 = (
        Endpoint("POST", r"/openai/v1/chat/completions", "chat.completions", stream="body"),
        Endpoint("POST", r"/openai/v1/completions", "completions", stream="body"),
        Endpoint("POST", r"/openai/v1/embeddings", "embeddings"),
    )
    return (*classic, *shared, *v1)


class AzureOpenAIProvider(Provider):
    id = "azure_openai"
    name = "Azure OpenAI"
    default_upstream_url = ""
    upstream_required = True
    pricing_provider_id = "azure"
    request_id_header = "x-request-id"
    api_roots = ("/openai/",)
    websockets = (("Realtime", "/openai/realtime"), ("Realtime", "/openai/v1/realtime"))
    endpoints = _endpoints()

    def route(self, request: Request) -> Route:
        return openai_route(super().route(request), request)

    def upstream_base(self, upstream_url: str, request: Request, route: Route) -> str:
        base = upstream_url.rstrip("/")
        # A resource URL given with the SDK's own "/openai" suffix would double it: accept both spellings.
        return base[: -len("/openai")] if base.endswith("/openai") else base

    def upstream_request(self, upstream_url: str, request: Request, route: Route) -> UpstreamRequest:
        if not upstream_url:
            message = "This Rubberduck proxy has no upstream_url: set it to your resource's endpoint."
            raise Refusal(self.error(502, Fault.UPSTREAM_UNREACHABLE, message=message))
        return super().upstream_request(upstream_url, request, route)

    def usage(self, route: Route, body: bytes) -> Usage | None:
        return openai_usage(route, body)

    def stream_inspector(self, route: Route) -> StreamInspector:
        return openai_stream_inspector(route)

    def new_request_id(self) -> str:
        return ids.uuid4()

    def error(self, status, fault=Fault.INJECTED, *, message=None, retry_after=None, limit=None, route=None) -> Answer:
        request_id = self.new_request_id()
        headers = [("apim-request-id", request_id), ("x-request-id", request_id), ("x-ms-region", "East US")]
        if retry_after is not None:
            headers += [("retry-after", str(retry_after)), ("retry-after-ms", str(retry_after * 1000))]
        if status == 429:
            headers += [
                ("x-ratelimit-limit-requests", str(limit or 60)),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-remaining-tokens", "0"),
            ]
            operation = _AZURE_OPERATIONS.get(route.operation if route else "", "ChatCompletions_Create")
            text = message or (
                f"Requests to the {operation} Operation under Azure OpenAI API have exceeded call rate limit of your "
                f"current OpenAI S0 pricing tier. Please retry after {retry_after or 1} seconds. Please go here: "
                "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
            )
            return self.json_answer(status, {"error": {"code": "429", "message": text}}, headers)
        if status == 403:
            headers.append(("policy-id", "ThrowExceptionDueToTrafficDenied"))
        if status == 400 and fault is Fault.INJECTED:
            return self.json_answer(status, CONTENT_FILTER_400, headers)
        if status in AZURE_ERRORS:
            code, default = AZURE_ERRORS[status]
            return self.json_answer(status, {"error": {"code": code, "message": message or default}}, headers)
        # Other statuses (400 the proxy itself found, 409, 422, 500) come through in OpenAI's shape, as Azure relays them.
        return self.json_answer(status, openai_error_body(status, fault, message, retry_after), headers)


provider_classes = [AzureOpenAIProvider]
