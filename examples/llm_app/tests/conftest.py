"""The app against Rubberduck proxies in front of fake OpenAI and Anthropic upstreams (the Rubberduck repo's
tests/fakes: real HTTP servers on loopback). The app is configured as in production: by its SDKs' environment.

The rubberduck_* fixtures and the rubberduck_failures marker come from the rubberduck-client pytest plugin; with no
--rubberduck-url, it starts a throwaway Rubberduck server for the session. With --rubberduck-record-mode=none, the
proxies answer from tests/recordings and no upstream runs at all."""

from collections.abc import Callable, Iterator

import pytest
from summarizer import Summarizer, Summary

from rubberduck_client import Proxy
from rubberduck_client.recordings import Recordings
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import openai as fake_openai
from tests.fakes.server import FakeUpstream

TIMEOUT = 2.0  # the app's timeout per attempt; a hang costs three of them (max_retries=2)
# Named, so that a test can fail one of them (@pytest.mark.rubberduck_failures(proxy=OPENAI, ...)) and so that
# each has its recording in tests/recordings.
OPENAI = "llm-app-tests-openai"
ANTHROPIC = "llm-app-tests-anthropic"


class Unreachable:
    """The upstream of a proxy that replays its recording: nothing listens there, and nothing may reach it."""

    url = "http://127.0.0.1:9"  # the discard port: a call that got through would fail to connect

    def __init__(self) -> None:
        self.requests: list = []


def upstream(respond, proxy_name: str, recordings: Recordings | None) -> Iterator[FakeUpstream | Unreachable]:
    if recordings is not None and recordings.replaying(proxy_name):
        yield Unreachable()
        return
    fake = FakeUpstream(respond).start()
    yield fake
    fake.stop()


@pytest.fixture
def openai_upstream(rubberduck_recordings) -> Iterator[FakeUpstream | Unreachable]:
    yield from upstream(fake_openai.respond, OPENAI, rubberduck_recordings)


@pytest.fixture
def anthropic_upstream(rubberduck_recordings) -> Iterator[FakeUpstream | Unreachable]:
    yield from upstream(fake_anthropic.respond, ANTHROPIC, rubberduck_recordings)


@pytest.fixture
def openai_proxy(rubberduck_proxy, openai_upstream) -> Proxy:
    return rubberduck_proxy("openai", name=OPENAI, model_name="gpt-4o-mini", upstream_url=openai_upstream.url + "/v1")


@pytest.fixture
def anthropic_proxy(rubberduck_proxy, anthropic_upstream) -> Proxy:
    return rubberduck_proxy(
        "anthropic", name=ANTHROPIC, model_name="claude-haiku-4-5", upstream_url=anthropic_upstream.url
    )


@pytest.fixture
def summarize(openai_proxy, anthropic_proxy, monkeypatch) -> Callable[[str], Summary]:
    """One run of the app, pointed at the proxies by the SDKs' own variables (the fakes take any key)."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_proxy.base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_proxy.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-example")
    return lambda text: Summarizer(timeout=TIMEOUT).summarize(text)
