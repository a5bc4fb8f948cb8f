"""The Gemini Developer API (generativelanguage.googleapis.com).

Clients use `genai.Client(api_key=..., http_options=types.HttpOptions(base_url="http://127.0.0.1:PORT"))`;
the SDK appends `/v1/models/{model}:{method}` (or v1beta) itself. The key travels as `x-goog-api-key` or as
`?key=`; both pass through upstream, and the query key never enters the cache key (base class).
"""

from __future__ import annotations

from typing import ClassVar

from providers.base import Endpoint
from providers.google_common import MESSAGES, GoogleProvider, model_endpoints, retry_info

VERSION = r"/(?P<version>v1|v1beta|v1alpha)"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
HELP = "type.googleapis.com/google.rpc.Help"
RATE_LIMITS_DOC = "https://ai.google.dev/gemini-api/docs/rate-limits"

GEMINI_MESSAGES = {
    **MESSAGES,
    403: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
    "or other form of API consumer identity to call this API.",
    429: "You exceeded your current quota, please check your plan and billing details. For more information on "
    f"this error, head to: {RATE_LIMITS_DOC}.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}


class GeminiProvider(GoogleProvider):
    id = "gemini"
    name = "Google Gemini API"
    default_upstream_url = "https://generativelanguage.googleapis.com"
    messages = GEMINI_MESSAGES
    # google-genai uploads files under /upload/, and opens the Live API's WebSocket under /ws/.
    api_roots = ("/v1beta/", "/v1/", "/v1alpha/", "/upload/", "/ws/")
    websockets = (("Live", "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"),)
    # A resumable upload's session URL: google-genai sends the file's bytes there as it is.
    url_headers = frozenset({*GoogleProvider.url_headers, "x-goog-upload-url"})
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        *model_endpoints(VERSION + r"/models/(?P<model>[^/:]+)"),
        *model_endpoints(VERSION + r"/tunedModels/(?P<model>[^/:]+)"),
        Endpoint("GET", VERSION + r"/models", "models.list"),
        Endpoint("GET", VERSION + r"/models/(?P<model>[^/:]+)", "models.get"),
    )

    def error_details(self, status: int, retry_after: int | None, limit: int | None) -> list[dict]:
        """Gemini's 429 names the quota it hit, links the rate-limit docs and says when to retry."""
        details = []
        if status == 429:
            violation = {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
            }
            if limit is not None:
                violation["quotaValue"] = str(limit)
            details.append({"@type": QUOTA_FAILURE, "violations": [violation]})
            details.append(
                {
                    "@type": HELP,
                    "links": [{"description": "Learn more about Gemini API quotas", "url": RATE_LIMITS_DOC}],
                }
            )
        if retry_after is not None:
            details.append(retry_info(retry_after))
        return details


provider_classes = [GeminiProvider]
