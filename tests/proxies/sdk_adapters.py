"""One adapter per provider for the cross-provider failure tests: how its official SDK is pointed at a proxy,
makes one call (plain or streamed), and what it raises. A test parametrised over `PROVIDERS` gets, through
the `sdk` fixture, the adapter, a running fake upstream, and a proxy in front of it."""

from __future__ import annotations

import importlib

import providers
from tests.fakes.server import FakeUpstream

PROVIDERS = ["openai", "azure_openai", "anthropic", "bedrock", "vertex", "gemini"]


class Adapter:
    provider: str
    fake: str  # module in tests.fakes
    # status -> (SDK exception class path, the provider's error code the SDK reports, or None)
    errors: dict[int, tuple[str, str | None]]
    timeout_error: tuple[str, ...]

    def prepare(self, monkeypatch, tmp_path) -> None:
        """Environment the provider needs before its proxy starts."""

    def respond(self):
        return importlib.import_module(f"tests.fakes.{self.fake}").respond

    def upstream_url(self, upstream: FakeUpstream) -> str:
        return upstream.url

    def call(self, proxy, prompt="hello", *, retries=0, timeout=None) -> str:
        raise NotImplementedError

    def stream(self, proxy, prompt="hello", *, timeout=None) -> list[str]:
        """The streamed answer's text pieces; raises the SDK's own error when the stream breaks."""
        raise NotImplementedError

    def status_and_code(self, error) -> tuple[int, str | None]:
        raise NotImplementedError

    def headers(self, error) -> dict:
        raise NotImplementedError


def load(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class OpenAIAdapter(Adapter):
    provider, fake = "openai", "openai"
    model = "gpt-4o-mini"
    errors = {
        400: ("openai.BadRequestError", None),
        403: ("openai.PermissionDeniedError", "unsupported_country_region_territory"),
        429: ("openai.RateLimitError", "rate_limit_exceeded"),
        500: ("openai.InternalServerError", None),
        503: ("openai.InternalServerError", None),
    }
    timeout_error = ("openai.APITimeoutError",)

    def upstream_url(self, upstream):
        return upstream.url + "/v1"

    def client(self, proxy, retries, timeout):
        import openai

        kw = {"timeout": timeout} if timeout is not None else {}
        return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test", max_retries=retries, **kw)

    def call(self, proxy, prompt="hello", *, retries=0, timeout=None):
        answer = self.client(proxy, retries, timeout).chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}]
        )
        return answer.choices[0].message.content

    def stream(self, proxy, prompt="hello", *, timeout=None):
        chunks = self.client(proxy, 0, timeout).chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}], stream=True
        )
        return [c.choices[0].delta.content or "" for c in chunks if c.choices]

    def status_and_code(self, error):
        return error.status_code, error.code

    def headers(self, error):
        return dict(error.response.headers)


class AzureOpenAIAdapter(OpenAIAdapter):
    provider, fake = "azure_openai", "azure_openai"
    errors = {
        400: ("openai.BadRequestError", None),
        403: ("openai.PermissionDeniedError", "403"),
        429: ("openai.RateLimitError", "429"),
        500: ("openai.InternalServerError", None),
        503: ("openai.InternalServerError", None),
    }

    def upstream_url(self, upstream):
        return upstream.url

    def client(self, proxy, retries, timeout):
        import openai

        kw = {"timeout": timeout} if timeout is not None else {}
        return openai.AzureOpenAI(
            azure_endpoint=proxy["base_url"], api_version="2024-10-21", api_key="azure-key", max_retries=retries, **kw
        )


class AnthropicAdapter(Adapter):
    provider, fake = "anthropic", "anthropic"
    errors = {
        400: ("anthropic.BadRequestError", "invalid_request_error"),
        403: ("anthropic.PermissionDeniedError", "permission_error"),
        429: ("anthropic.RateLimitError", "rate_limit_error"),
        500: ("anthropic.InternalServerError", "api_error"),
        503: ("anthropic.InternalServerError", None),
        529: ("anthropic.OverloadedError", "overloaded_error"),
    }
    timeout_error = ("anthropic.APITimeoutError",)

    def client(self, proxy, retries, timeout):
        import anthropic

        kw = {"timeout": timeout} if timeout is not None else {}
        return anthropic.Anthropic(base_url=proxy["base_url"], api_key="sk-ant-test", max_retries=retries, **kw)

    def call(self, proxy, prompt="hello", *, retries=0, timeout=None):
        message = self.client(proxy, retries, timeout).messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": prompt}]
        )
        return "".join(block.text for block in message.content if block.type == "text")

    def stream(self, proxy, prompt="hello", *, timeout=None):
        events = self.client(proxy, 0, timeout).messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": prompt}], stream=True
        )
        return [e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"]

    def status_and_code(self, error):
        body = error.body if isinstance(error.body, dict) else {}
        return error.status_code, (body.get("error") or {}).get("type")

    def headers(self, error):
        return dict(error.response.headers)


class BedrockAdapter(Adapter):
    provider, fake = "bedrock", "bedrock"
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    errors = {
        400: ("botocore.exceptions.ClientError", "ValidationException"),
        403: ("botocore.exceptions.ClientError", "AccessDeniedException"),
        429: ("botocore.exceptions.ClientError", "ThrottlingException"),
        500: ("botocore.exceptions.ClientError", "InternalServerException"),
        503: ("botocore.exceptions.ClientError", "ServiceUnavailableException"),
    }
    timeout_error = ("botocore.exceptions.ReadTimeoutError",)

    def prepare(self, monkeypatch, tmp_path):
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVER0000000001")  # the proxy re-signs with its own
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-key")
        from accounts.models import SiteSettings

        # ...which the test user's proxies may use, though it is not staff
        SiteSettings.objects.update_or_create(pk=1, defaults={"server_aws_credentials": "everyone"})
        forget = getattr(getattr(providers.get("bedrock"), "credentials", None), "forget", None)
        if forget:
            forget()

    def respond(self):
        fake = importlib.import_module("tests.fakes.bedrock")
        return fake.FakeBedrock().respond

    def client(self, proxy, retries, timeout):
        import boto3
        from botocore.config import Config

        config = Config(retries={"total_max_attempts": retries + 1, "mode": "standard"}, read_timeout=timeout or 60)
        return boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=proxy["base_url"],
            aws_access_key_id="AKIACLIENT0000000001",
            aws_secret_access_key="client-secret-key",
            config=config,
        )

    def call(self, proxy, prompt="hello", *, retries=0, timeout=None):
        answer = self.client(proxy, retries, timeout).converse(
            modelId=self.model, messages=[{"role": "user", "content": [{"text": prompt}]}]
        )
        return "".join(part.get("text", "") for part in answer["output"]["message"]["content"])

    def stream(self, proxy, prompt="hello", *, timeout=None):
        answer = self.client(proxy, 0, timeout).converse_stream(
            modelId=self.model, messages=[{"role": "user", "content": [{"text": prompt}]}]
        )
        return [e["contentBlockDelta"]["delta"].get("text", "") for e in answer["stream"] if "contentBlockDelta" in e]

    def status_and_code(self, error):
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]

    def headers(self, error):
        return error.response["ResponseMetadata"]["HTTPHeaders"]


class GeminiAdapter(Adapter):
    provider, fake = "gemini", "google"
    model = "gemini-2.5-flash"
    errors = {
        400: ("google.genai.errors.ClientError", "INVALID_ARGUMENT"),
        403: ("google.genai.errors.ClientError", "PERMISSION_DENIED"),
        429: ("google.genai.errors.ClientError", "RESOURCE_EXHAUSTED"),
        500: ("google.genai.errors.ServerError", "INTERNAL"),
        503: ("google.genai.errors.ServerError", "UNAVAILABLE"),
    }
    timeout_error = ("httpx.TimeoutException", "httpx2.TimeoutException")

    def options(self, proxy, timeout):
        from google.genai import types

        kw = {"timeout": int(timeout * 1000)} if timeout is not None else {}
        return types.HttpOptions(base_url=proxy["base_url"], **kw)

    def client(self, proxy, retries, timeout):
        from google import genai

        return genai.Client(api_key="AIza-test-key", http_options=self.options(proxy, timeout))

    # The client is kept in a local: a genai.Client closes its HTTP client when it is garbage-collected.
    def call(self, proxy, prompt="hello", *, retries=0, timeout=None):
        client = self.client(proxy, retries, timeout)
        return client.models.generate_content(model=self.model, contents=prompt).text

    def stream(self, proxy, prompt="hello", *, timeout=None):
        client = self.client(proxy, 0, timeout)
        return [c.text or "" for c in client.models.generate_content_stream(model=self.model, contents=prompt)]

    def status_and_code(self, error):
        return error.code, error.status

    def headers(self, error):
        return dict(error.response.headers) if getattr(error, "response", None) is not None else {}


class VertexAdapter(GeminiAdapter):
    provider = "vertex"

    def client(self, proxy, retries, timeout):
        from google import genai
        from google.oauth2.credentials import Credentials

        return genai.Client(
            vertexai=True,
            project="p",
            location="us-central1",
            credentials=Credentials(token="ya29.test-token"),
            http_options=self.options(proxy, timeout),
        )


ADAPTERS = {
    a.provider: a
    for a in (
        OpenAIAdapter(),
        AzureOpenAIAdapter(),
        AnthropicAdapter(),
        BedrockAdapter(),
        VertexAdapter(),
        GeminiAdapter(),
    )
}


class SDK:
    """What a parametrised test gets: the adapter, the fake upstream and the proxy in front of it."""

    def __init__(self, adapter: Adapter, upstream: FakeUpstream, proxy: dict, api, runner):
        self.adapter, self.upstream, self.proxy, self.api, self.runner = adapter, upstream, proxy, api, runner

    def __getattr__(self, name):
        return getattr(self.adapter, name)

    def set_failures(self, config: dict) -> None:
        response = self.api.put(f"/api/v1/proxies/{self.proxy['id']}/failures", config, format="json")
        assert response.status_code == 200, response.content
        self.runner.reconcile()  # the running proxy takes the new config now, not on the next poll

    def error_class(self, status: int):
        return load(self.adapter.errors[status][0])

    def timeout_classes(self) -> tuple:
        found = []
        for path in self.adapter.timeout_error:
            try:
                found.append(load(path))
            except (ImportError, AttributeError):
                pass
        return tuple(found)


def sdk_fixture(request, monkeypatch, tmp_path, api, runner, make_proxy):
    """The body of a module's `sdk` fixture (params=PROVIDERS)."""
    provider = request.param
    adapter = ADAPTERS[provider]
    adapter.prepare(monkeypatch, tmp_path)
    upstream = FakeUpstream(adapter.respond()).start()
    try:
        proxy = make_proxy(provider, upstream_url=adapter.upstream_url(upstream))
        yield SDK(adapter, upstream, proxy, api, runner)
    finally:
        upstream.stop()
