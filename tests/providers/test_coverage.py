"""What each provider says it covers: derived from its endpoints and API roots, and true to the SDKs' paths."""

import pytest

import providers
from providers.base import Endpoint, Provider, Request

# Paths the official SDKs call (as seen in their sources and in the provider tests), per provider.
SDK_PATHS = {
    "openai": ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/models", "/v1/realtime", "/v1/files"],
    "anthropic": ["/v1/messages", "/v1/messages/count_tokens", "/v1/complete", "/v1/messages/batches"],
    "azure_openai": ["/openai/deployments/gpt-4o/chat/completions", "/openai/v1/responses", "/openai/models"],
    "bedrock": [
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        "/guardrail/gr1/version/1/apply",
        "/guardrail-checks/invoke",
        "/async-invoke",
    ],
    "vertex": [
        "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict",
        "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
    ],
    "gemini": [
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1/models",
        "/upload/v1beta/files",
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
    ],
}


def test_every_provider_has_sdk_paths_listed_here():
    assert set(SDK_PATHS) == set(providers.registry())


@pytest.mark.parametrize("provider_id", sorted(SDK_PATHS))
def test_it_declares_api_roots_under_which_the_sdks_paths_live(provider_id):
    provider = providers.get(provider_id)
    assert provider.api_roots and all(root.startswith("/") for root in provider.api_roots)
    for path in SDK_PATHS[provider_id]:
        assert path.startswith(provider.api_roots), path


@pytest.mark.parametrize("provider_id", sorted(SDK_PATHS))
def test_every_modelled_operation_is_listed_once_as_cached_or_forwarded(provider_id):
    provider = providers.get(provider_id)
    coverage = provider.coverage()
    listed = {(c["operation"], c["method"]): True for c in coverage["cached"]}
    listed |= {(c["operation"], c["method"]): False for c in coverage["forwarded"]}
    assert len(listed) == len(coverage["cached"]) + len(coverage["forwarded"])
    assert listed == {(e.operation, e.method): e.cacheable for e in provider.endpoints}
    assert sum(len(c["paths"]) for c in coverage["cached"] + coverage["forwarded"]) == len(provider.endpoints)
    assert coverage["passthrough"] == list(provider.api_roots)


def test_coverage_shows_patterns_as_paths_and_groups_an_operation_across_them():
    class Toy(Provider):
        id, name, api_roots = "toy", "Toy", ("/v1/", "/v2/")
        endpoints = (
            Endpoint("POST", r"/(?P<version>v1|v2)/models/(?P<model>[^/:]+):generate", "generate", stream="never"),
            Endpoint("POST", r"/v1/deployments/(?P<model>.+)/generate", "generate"),
            Endpoint("GET", r"/v1/jobs/(?P<id>[^/]+)", "jobs.get", cacheable=False),
        )

    assert Toy().coverage() == {
        "cached": [
            {
                "operation": "generate",
                "method": "POST",
                "stream": "never",
                "paths": ["/{version}/models/{model}:generate", "/v1/deployments/{model}/generate"],
            }
        ],
        "forwarded": [{"operation": "jobs.get", "method": "GET", "stream": "never", "paths": ["/v1/jobs/{id}"]}],
        "passthrough": ["/v1/", "/v2/"],
        "websockets": [],
        "refused": "Paths outside /v1/, /v2/: answered with Toy's own 404, never forwarded.",
    }


def test_the_sdk_paths_that_are_modelled_route_to_their_listed_operations():
    modelled = {
        op["operation"]
        for p in providers.registry().values()
        for op in p.coverage()["cached"] + p.coverage()["forwarded"]
    }
    for provider_id, paths in SDK_PATHS.items():
        provider = providers.get(provider_id)
        for path in paths:
            method = "GET" if path.endswith(("/models", "/async-invoke")) else "POST"
            route = provider.route(Request(method, path, "", {}, b"{}"))
            assert route.operation in modelled or route.passthrough, (provider_id, path)


@pytest.mark.parametrize("provider_id", sorted(SDK_PATHS))
def test_the_websocket_apis_it_names_live_under_its_api_roots(provider_id):
    provider = providers.get(provider_id)
    for api in provider.coverage()["websockets"]:
        assert api["path"].startswith(provider.api_roots), api
        assert provider.route(Request("GET", api["path"], "", {}, b"")).passthrough
