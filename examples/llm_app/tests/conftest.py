"""The app against Rubberduck proxies in front of fake OpenAI and Anthropic upstreams (the Rubberduck repo's
tests/fakes: real HTTP servers on loopback). The app is configured as in production: by its SDKs' environment.

The rubberduck_* fixtures and the rubberduck_failures marker come from the rubberduck-client pytest plugin; with no
--rubberduck-url, it starts a throwaway Rubberduck server for the session."""

from collections.abc import Callable, Iterator

import pytest
from summarizer import Summarizer, Summary

from rubberduck_client import Proxy
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream

TIMEOUT = 2.0  # the app's timeout per attempt; a hang costs three of them (max_retries=2)


def upstream(respond) -> Iterator[FakeUpstream]:
    fake = FakeUpstream(respond).start()
    yield fake
    fake.stop()


@pytest.fixture
def openai_upstream() -> Iterator[FakeUpstream]:
    yield from upstream(fake_openai.respond)


@pytest.fixture
def anthropic_upstream() -> Iterator[FakeUpstream]:
    yield from upstream(fake_anthropic.respond)


def serving_its_failures(proxy: Proxy) -> Proxy:
    """The proxy, failing as its config says from its first request on. rubberduck_failures sets the config once the
    proxy serves, and a running proxy takes a new config within a reconcile tick (≤ 0.5 s): a restart takes it now."""
    if proxy.failures():
        proxy.stop()
        proxy.start()
    return proxy


# Named, so that a test can fail one of them: @pytest.mark.rubberduck_failures(proxy="llm-app-tests-openai", ...)
@pytest.fixture
def openai_proxy(rubberduck_proxy, openai_upstream) -> Proxy:
    proxy = rubberduck_proxy(
        "openai", name="llm-app-tests-openai", model_name="gpt-4o-mini", upstream_url=openai_upstream.url + "/v1"
    )
    return serving_its_failures(proxy)


@pytest.fixture
def anthropic_proxy(rubberduck_proxy, anthropic_upstream) -> Proxy:
    proxy = rubberduck_proxy(
        "anthropic", name="llm-app-tests-anthropic", model_name="claude-haiku-4-5", upstream_url=anthropic_upstream.url
    )
    return serving_its_failures(proxy)


@pytest.fixture
def summarize(openai_proxy, anthropic_proxy, monkeypatch) -> Callable[[str], Summary]:
    """One run of the app, pointed at the proxies by the SDKs' own variables (the fakes take any key)."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_proxy.base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_proxy.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-example")
    return lambda text: Summarizer(timeout=TIMEOUT).summarize(text)
