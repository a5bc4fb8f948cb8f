"""Google Vertex AI (generateContent and friends on `{location}-aiplatform.googleapis.com`).

Clients use `genai.Client(vertexai=True, project=..., location=..., credentials=...,
http_options=types.HttpOptions(base_url="http://127.0.0.1:PORT"))`; the SDK appends
`/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}` itself.
The OAuth bearer token (or an express-mode `x-goog-api-key`) passes through unchanged. Without an
upstream_url the upstream host follows the location in the path, as the SDK itself picks it.
"""

from __future__ import annotations

from typing import ClassVar

from providers.base import Endpoint, Request, Route
from providers.google_common import GoogleProvider, model_endpoints

VERSION = r"/(?P<version>v1|v1beta1)"
# The location becomes part of the upstream host name: only a DNS label may match, never a host of its own.
LOCATION = r"/projects/(?P<project>[^/]+)/locations/(?P<location>[a-z0-9-]+)"
MODEL = r"/publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/:]+)"
MULTI_REGIONS = ("us", "eu")
GLOBAL_HOST = "https://aiplatform.googleapis.com"


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
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        *model_endpoints(VERSION + LOCATION + MODEL),
        # Deployed (e.g. tuned) models are addressed by endpoint id instead of a publisher model.
        *model_endpoints(VERSION + LOCATION + r"/endpoints/(?P<model>[^/:]+)"),
        # Express mode (API key, no project): the path has no project or location.
        *model_endpoints(VERSION + MODEL),
        Endpoint("GET", VERSION + r"/publishers/(?P<publisher>[^/]+)/models", "models.list"),
        Endpoint("GET", VERSION + MODEL, "models.get"),
    )

    def upstream_base(self, upstream_url: str, request: Request, route: Route) -> str:
        if upstream_url:
            return upstream_url.rstrip("/")
        return vertex_host(route.params.get("location"))


provider_classes = [VertexProvider]
