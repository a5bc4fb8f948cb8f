"""The app's retries, fallback and cache, proved through Rubberduck: a test makes the OpenAI proxy fail in one way
(the rubberduck_failures marker), runs the app, and checks its answer and what the proxies logged.

The same checks hold live and replayed (--rubberduck-record-mode=none): an answer the upstream gave live is a miss,
replayed it is a hit, and the upstream was asked exactly once per miss."""

import time
from datetime import datetime

import openai
import pytest
from summarizer import Summary

from rubberduck_client import Proxy

OPENAI = "llm-app-tests-openai"  # the name of conftest.py's openai_proxy

TEXT = "Rubberduck sits between an app and its LLM providers, where it caches answers and injects failures."
FROM_OPENAI = Summary("Hello from the fake upstream!", "openai")
FROM_ANTHROPIC = Summary("Hello from the fake Claude!", "anthropic")


def logged(proxy: Proxy, count: int, timeout: float = 10.0) -> list[dict]:
    """The proxy's log entries, oldest first, once there are `count` (the server writes them in batches)."""
    deadline = time.monotonic() + timeout
    while len(entries := proxy.logs()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return entries[::-1]


def outcomes(entries: list[dict]) -> list[tuple[int, str | None]]:
    return [(entry["status_code"], entry["failure"]) for entry in entries]


def misses(entries: list[dict]) -> int:
    """How many of the entries the upstream answered (the others: an injected failure, or the cache)."""
    return sum(entry["cache"] == "miss" for entry in entries)


# One error rule draws once per request: seed 1 draws 0.13 (under 0.5: a 429), then 0.85 (no error).
@pytest.mark.rubberduck_failures(proxy=OPENAI, errors={429: 0.5}, seed=1)
def test_it_answers_from_openai_when_the_sdk_retries_a_rate_limit(summarize, openai_proxy, openai_upstream):
    assert summarize(TEXT) == FROM_OPENAI

    rate_limited, answered = entries = logged(openai_proxy, 2)
    assert outcomes(entries) == [(429, "error"), (200, None)]
    assert rate_limited["cache"] != "miss"  # an injected error never reaches the upstream
    assert len(openai_upstream.requests) == misses(entries)
    # The 429 says `retry-after: 1`; without it the SDK would have retried after its own backoff (at most 0.5 s).
    waited = datetime.fromisoformat(answered["timestamp"]) - datetime.fromisoformat(rate_limited["timestamp"])
    assert waited.total_seconds() >= 1


@pytest.mark.rubberduck_failures(proxy=OPENAI, timeout={"mode": "hang"})
def test_it_falls_back_to_anthropic_when_openai_hangs(
    summarize, openai_proxy, anthropic_proxy, openai_upstream, anthropic_upstream
):
    assert summarize(TEXT) == FROM_ANTHROPIC

    # Three attempts (max_retries=2), each abandoned at the app's timeout: hangs the client left (499).
    assert outcomes(logged(openai_proxy, 3)) == [(499, "hang")] * 3
    assert openai_upstream.requests == []
    answered = logged(anthropic_proxy, 1)
    assert outcomes(answered) == [(200, None)]
    assert len(anthropic_upstream.requests) == misses(answered)


@pytest.mark.rubberduck_failures(proxy=OPENAI, ip_block=["127.0.0.1"])
def test_it_raises_openais_permission_error_when_its_ip_is_blocked(
    summarize, openai_proxy, openai_upstream, anthropic_upstream
):
    with pytest.raises(openai.PermissionDeniedError):
        summarize(TEXT)

    # Neither retried nor worked around: another provider cannot make a blocked IP or key work.
    assert outcomes(logged(openai_proxy, 1)) == [(403, "ip_blocked")]
    assert openai_upstream.requests == anthropic_upstream.requests == []


def test_it_is_answered_from_the_cache_on_a_second_run(summarize, openai_proxy, openai_upstream):
    assert summarize(TEXT) == FROM_OPENAI
    first = logged(openai_proxy, 1)
    assert len(openai_upstream.requests) == misses(first)

    assert summarize(TEXT) == FROM_OPENAI
    first, second = logged(openai_proxy, 2)
    assert second["cache"] == "hit"
    assert len(openai_upstream.requests) == misses([first])  # not one more upstream call
