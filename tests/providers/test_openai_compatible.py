"""OpenAI-compatible servers (vLLM, Ollama, OpenRouter, Groq) through an `openai` proxy: its upstream_url is
the server's base URL with its own version prefix, and the client's `/v1` is replaced by that prefix."""

import openai
import pytest

from tests.conftest import flushed_logs, wait_until

PREFIXES = [
    pytest.param("/v1", id="vllm-ollama"),  # http://localhost:8000/v1, http://localhost:11434/v1
    pytest.param("/api/v1", id="openrouter"),  # https://openrouter.ai/api/v1
    pytest.param("/openai/v1", id="groq"),  # https://api.groq.com/openai/v1
]
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_it_forwards_to_the_servers_own_prefix_and_caches(prefix, make_proxy, openai_upstream, runner):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + prefix + "/")
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-or-compatible", max_retries=0)

    first = client.chat.completions.with_raw_response.create(model="meta-llama/llama-3.1-8b", messages=MESSAGES)
    second = client.chat.completions.with_raw_response.create(model="meta-llama/llama-3.1-8b", messages=MESSAGES)
    kwargs = dict(
        model="meta-llama/llama-3.1-8b", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    live = list(client.chat.completions.create(**kwargs))
    replay_raw = client.chat.completions.with_raw_response.create(**kwargs)
    replayed = list(replay_raw.parse())
    models = client.models.list()

    assert (first.headers["x-rubberduck-cache"], second.headers["x-rubberduck-cache"]) == ("miss", "hit")
    assert first.parse().choices[0].message.content == second.parse().choices[0].message.content
    assert replay_raw.headers["x-rubberduck-cache"] == "hit"

    def text(chunks):
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    assert text(live) == text(replayed) == "Hello from the fake upstream!"
    assert [m.id for m in models.data] == ["gpt-4o-mini"]
    assert [r.path for r in openai_upstream.requests] == [
        prefix + "/chat/completions",
        prefix + "/chat/completions",
        prefix + "/models",
    ]
    assert {r.headers["authorization"] for r in openai_upstream.requests} == {"Bearer sk-or-compatible"}
    entries = wait_until(lambda: (e := flushed_logs(runner, proxy["id"])) and len(e) == 5 and e)
    assert [(e.cache, e.prompt_tokens) for e in entries[:4]] == [("miss", 11), ("hit", 11), ("miss", 11), ("hit", 11)]
