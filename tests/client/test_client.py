"""The blocking client against a real server (started by the client's pytest plugin), through the openai SDK
and a fake upstream."""

import secrets

import openai
import pytest

from rubberduck_client import Proxy, Rubberduck, RubberduckError
from tests.conftest import wait_until

RATE_LIMITED = {"errors": [{"status": 429, "rate": 1.0}]}


@pytest.fixture
def llm(rubberduck_proxy, openai_upstream) -> Proxy:
    return rubberduck_proxy("openai", model_name="gpt-4o-mini", upstream_url=openai_upstream.url + "/v1")


def sdk(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)


def ask(proxy, content="Say hi") -> openai.APIResponse:
    """The raw answer, or raises the SDK's own error."""
    messages = [{"role": "user", "content": content}]
    return sdk(proxy).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)


def status_of(proxy) -> int:
    try:
        return ask(proxy).status_code
    except openai.APIStatusError as e:
        return e.status_code


def test_it_ensures_a_proxy_by_name(rubberduck: Rubberduck, openai_upstream):
    name = f"ensured-{secrets.token_hex(3)}"
    settings = {"provider": "openai", "model_name": "gpt-4o-mini", "upstream_url": openai_upstream.url + "/v1"}
    try:
        first = rubberduck.proxy(name, **settings)
        again = rubberduck.proxy(name, **settings)
        changed = rubberduck.proxy(name, **{**settings, "description": "now described"})

        assert first.status == "running" and first.base_url.endswith("/v1")
        assert again.id == changed.id == first.id
        assert changed.data["description"] == "now described"
        assert [p.id for p in rubberduck.proxies() if p.name == name] == [first.id]
        assert rubberduck.get_proxy(name).data["description"] == "now described"
        assert ask(changed).parse().choices[0].message.content == "Hello from the fake upstream!"
    finally:
        rubberduck.get_proxy(name).delete()
    with pytest.raises(RubberduckError) as missing:
        rubberduck.get_proxy(name)
    assert missing.value.status == 404


def test_it_applies_failures_for_the_block_and_restores_the_previous_config(llm):
    llm.set_failures(rpm_limit=1000, seed=7)
    # A running proxy takes an edit within one reconcile tick (docs/failures.md): hence the waits.
    wait_until(lambda: status_of(llm) == 200)

    with llm.failing(errors={429: 1.0}) as failing:
        assert failing is llm
        assert llm.failures() == RATE_LIMITED
        wait_until(lambda: status_of(llm) == 429)
        with pytest.raises(openai.RateLimitError) as limited:
            ask(llm)
        assert limited.value.response.headers["x-rubberduck-failure"] == "error"

    assert llm.failures() == {"rpm_limit": 1000, "seed": 7}
    wait_until(lambda: status_of(llm) == 200)
    assert ask(llm).status_code == 200


def test_it_restores_the_failures_when_the_block_raises(llm):
    with pytest.raises(RuntimeError), llm.failing({"timeout": {"mode": "hang"}}):
        assert llm.failures()["timeout"]["mode"] == "hang"
        raise RuntimeError("the test failed")
    assert llm.failures() == {}


def test_it_resets_one_proxy_or_every_proxy(rubberduck, rubberduck_proxy, llm):
    other = rubberduck_proxy("anthropic", model_name="claude")
    llm.set_failures(errors={500: 0.5})
    other.set_failures(rpm_limit=5)

    llm.reset()
    assert llm.failures() == {} and other.failures() == {"rpm_limit": 5}

    llm.set_failures(errors={500: 0.5})
    rubberduck.reset()
    assert llm.failures() == {} and other.failures() == {}


def test_it_clears_the_cache(llm, openai_upstream):
    assert ask(llm).headers["x-rubberduck-cache"] == "miss"
    assert ask(llm).headers["x-rubberduck-cache"] == "hit"

    assert isinstance(llm.cache.clear(), int)

    assert ask(llm).headers["x-rubberduck-cache"] == "miss"
    assert len(openai_upstream.requests) == 2


def test_it_reads_the_proxys_logs_with_filters(llm):
    ask(llm, "one")
    ask(llm, "one")
    ask(llm, "two")

    entries = wait_until(lambda: (found := llm.logs()) and len(found) == 3 and found)
    assert {e["proxy"] for e in entries} == {llm.id}
    assert [e["cache"] for e in entries] == ["miss", "hit", "miss"]  # newest first
    assert [e["cache"] for e in llm.logs(cache="hit")] == ["hit"]
    assert len(llm.logs(status="2xx", since=entries[-1]["timestamp"])) == 3
    assert llm.logs(failure="error") == []


def test_it_raises_the_servers_message_and_field_errors(rubberduck, llm):
    with pytest.raises(RubberduckError) as bad_create:
        rubberduck.create_proxy(f"bad-{secrets.token_hex(3)}", provider="nope", model_name="m", port=0)
    assert bad_create.value.status == 400
    assert set(bad_create.value.field_errors) == {"provider", "port"}
    assert "Unknown provider" in bad_create.value.field_errors["provider"][0]
    assert "Unknown provider" in bad_create.value.message

    with pytest.raises(RubberduckError) as bad_config:
        llm.set_failures(errors={429: 0.5, 500: 2.0})
    assert bad_config.value.status == 400
    assert list(bad_config.value.field_errors) == ["errors[1].rate"]

    with pytest.raises(RubberduckError) as refused, Rubberduck(rubberduck.url, "rd_not-a-token") as stranger:
        stranger.proxies()
    assert (refused.value.status, refused.value.code) == (401, "authentication_failed")
    assert refused.value.message == "Invalid token."


def test_it_stops_and_starts_a_proxy(llm):
    assert llm.stop().status == "stopped"
    with pytest.raises(openai.APIConnectionError):
        ask(llm)
    assert llm.start().status == "running"
    assert ask(llm).status_code == 200
    assert llm.refresh().status == "running"


def test_it_says_when_the_server_cannot_be_reached():
    with pytest.raises(RubberduckError) as unreachable, Rubberduck("http://127.0.0.1:9", "t") as nowhere:
        nowhere.proxies()
    assert unreachable.value.status is None and unreachable.value.code == "unreachable"
