"""Google Vertex AI (generateContent and friends on `{location}-aiplatform.googleapis.com`).

Clients use `genai.Client(vertexai=True, project=..., location=..., credentials=...,
http_options=types.HttpOptions(base_url="http://127.0.0.1:PORT"))`; the SDK appends
`/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}` itself.
The OAuth bearer token (or an express-mode `x-goog-api-key`) passes through unchanged. Without an
upstream_url the upstream host follows the location in the path, as the SDK itself picks it.

Claude on Vertex: `AnthropicVertex(base_url="http://127.0.0.1:PORT/v1", region=..., project_id=...)` sends
Anthropic's Messages API to `.../publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict` when
streamed). Those answers are Anthropic's own (usage, SSE events) and are read as such.
"""

from __future__ import annotations

import re
from typing import ClassVar

from providers.anthropic import ANTHROPIC_ERRORS, MessagesInspector, message_usage
from providers.base import Answer, Endpoint, Fault, Request, Route, RouteError, StreamInspector, Usage
from providers.google_common import GoogleProvider, model_endpoints

VERSION = r"/(?P<version>v1|v1beta1)"
# The location becomes part of the upstream host name: only a DNS label may match, never a host of its own.
LOCATION = r"/projects/(?P<project>[^/]+)/locations/(?P<location>[a-z0-9-]+)"
MODEL = r"/publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/:]+)"
# Any path naming a location, modelled or not: a pass-through's upstream host follows it too.
ANY_LOCATION = re.compile(r"/(?:v1|v1beta1)/projects/[^/]+/locations/(?P<location>[^/]+)")
LOCATION_LABEL = re.compile(r"[a-z0-9-]+")
MULTI_REGIONS = ("us", "eu")
GLOBAL_HOST = "https://aiplatform.googleapis.com"
CLAUDE = VERSION + LOCATION + r"/publishers/anthropic/models"
# Claude's operations are named "anthropic.*": their answers and usage are Anthropic's.
CLAUDE_ENDPOINTS = (
    Endpoint("POST", CLAUDE + r"/count-tokens:rawPredict", "anthropic.messages.count_tokens"),
    Endpoint("POST", CLAUDE + r"/(?P<model>[^/:]+):rawPredict", "anthropic.messages"),
    Endpoint("POST", CLAUDE + r"/(?P<model>[^/:]+):streamRawPredict", "anthropic.messages.stream", stream="always"),
)
# Errors of Anthropic's model server reach the client in Anthropic's shape; Vertex's front end answers the
# rest (authentication, quota, unknown model, gateway) as google.rpc.Status, a stream's wrapped in a list.
ANTHROPIC_SERVER_STATUSES = frozenset({400, 529})
CLAUDE_QUOTA_MESSAGE = (
    "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: "
    "anthropic-{model}. Please submit a quota increase request. "
    "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
)


def vertex_host(location: str | None) -> str:
    """The Vertex endpoint for `location`, as google-genai derives it (`global` and express mode: global)."""
    if not location or location == "global":
        return GLOBAL_HOST
    if location in MULTI_REGIONS:
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


class VertexProvider(GoogleProvider):
    id = "vertex"
    name = "Google Vertex AI"
    default_upstream_url = GLOBAL_HOST
    key_headers = ("anthropic-beta",)  # Claude's beta features (Gemini requests never carry it)
    api_roots = ("/v1/", "/v1beta1/", "/ws/")  # the Live API's WebSocket under /ws/
    websockets = (("Live", "/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"),)
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        *CLAUDE_ENDPOINTS,
        *model_endpoints(VERSION + LOCATION + MODEL),
        # Deployed (e.g. tuned) models are addressed by endpoint id instead of a publisher model.
        *model_endpoints(VERSION + LOCATION + r"/endpoints/(?P<model>[^/:]+)"),
        # Express mode (API key, no project): the path has no project or location.
        *model_endpoints(VERSION + MODEL),
        Endpoint("GET", VERSION + r"/publishers/(?P<publisher>[^/]+)/models", "models.list"),
        Endpoint("GET", VERSION + MODEL, "models.get"),
    )

    def passthrough_route(self, method: str, path: str) -> Route:
        """A pass-through keeps its location for the upstream host; one that is no host-name label names no Vertex
        resource (and could steer the credentials to another host): unknown."""
        route = super().passthrough_route(method, path)
        m = ANY_LOCATION.match(path)
        if m is None:
            return route
        if not LOCATION_LABEL.fullmatch(m["location"]):
            raise RouteError(Fault.NOT_FOUND, f"Unknown request URL: {method} {path}.", 404)
        return Route(route.operation, cacheable=False, params={"location": m["location"]}, passthrough=True)

    def upstream_base(self, upstream_url: str, request: Request, route: Route) -> str:
        if upstream_url:
            return upstream_url.rstrip("/")
        return vertex_host(route.params.get("location"))

    def usage(self, route: Route, body: bytes) -> Usage | None:
        if route.operation == "anthropic.messages":
            data = self.json_object(body)
            return message_usage(data, route.model) if data and isinstance(data.get("usage"), dict) else None
        if route.operation.startswith("anthropic."):  # counting tokens is free
            return None
        return super().usage(route, body)

    def stream_inspector(self, route: Route) -> StreamInspector:
        if route.operation.startswith("anthropic."):
            return MessagesInspector()
        return super().stream_inspector(route)

    def error(self, status, fault=Fault.INJECTED, *, message=None, retry_after=None, limit=None, route=None) -> Answer:
        if route is None or not route.operation.startswith("anthropic."):
            return super().error(status, fault, message=message, retry_after=retry_after, limit=limit, route=route)
        # `retry-after` is what AnthropicVertex waits for; Vertex's Claude errors carry no RetryInfo detail.
        headers = [("retry-after", str(retry_after))] if retry_after is not None else []
        if status in ANTHROPIC_SERVER_STATUSES:
            error_type, default = ANTHROPIC_ERRORS[status]
            return self.json_answer(
                status, {"type": "error", "error": {"type": error_type, "message": message or default}}, headers
            )
        if status == 429 and message is None:
            message = CLAUDE_QUOTA_MESSAGE.format(model=(route.model or "claude").split("@")[0])
        answer = super().error(status, fault, message=message, route=route)
        body = b"[" + answer.body.rstrip() + b"]\n" if route.stream else answer.body
        return Answer(status, [*answer.headers, *headers], body)


provider_classes = [VertexProvider]
