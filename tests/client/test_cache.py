"""A proxy's cache through the client (sync and async) against a real server: listed across pages with filters,
one entry deleted, exported to a file, imported back, and the cache mode switched; through the openai SDK and a
fake upstream."""

import json

import openai
import pytest

from rubberduck_client import AsyncRubberduck, Proxy, RubberduckError, plans
from tests.conftest import wait_until


@pytest.fixture
def llm(rubberduck_proxy, openai_upstream) -> Proxy:
    return rubberduck_proxy("openai", model_name="gpt-4o-mini", upstream_url=openai_upstream.url + "/v1")


def ask(proxy, content, model="gpt-4o-mini"):
    sdk = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": content}]
    return sdk.chat.completions.with_raw_response.create(model=model, messages=messages)


def recorded(proxy, count: int) -> list[dict]:
    """The proxy's entries once `count` are stored (an answer is stored a fraction of a second after it is served)."""
    return wait_until(lambda: len(found := proxy.cache.ls()) == count and found)


def test_it_lists_every_page_with_filters_and_deletes_one_entry(llm, monkeypatch):
    monkeypatch.setattr(plans, "CACHE_PAGE_SIZE", "2")  # three entries: two pages
    for content, model in [("one", "gpt-4o-mini"), ("two", "gpt-4o-mini"), ("three", "gpt-4o")]:
        assert ask(llm, content, model).headers["x-rubberduck-cache"] == "miss"

    entries = recorded(llm, 3)
    assert len({e["key"] for e in entries}) == 3
    assert {(e["method"], e["path"], e["status"], e["stream"]) for e in entries} == {
        ("POST", "/v1/chat/completions", 200, False)
    }
    assert all(e["size"] > 0 and e["hits"] == 0 and e["recorded_at"] for e in entries)
    assert [e["model"] for e in llm.cache.ls(model="gpt-4o")] == ["gpt-4o"]
    assert len(llm.cache.ls(path="chat/compl")) == 3
    assert llm.cache.ls(path="embeddings") == []
    some = entries[1]["key"]
    assert [e["key"] for e in llm.cache.ls(q=some[5:20])] == [some]

    gone = next(e for e in entries if e["model"] == "gpt-4o")
    llm.cache.delete(gone["key"])
    assert gone["key"] not in {e["key"] for e in llm.cache.ls()}
    assert ask(llm, "three", "gpt-4o").headers["x-rubberduck-cache"] == "miss"  # asked again: it went
    assert ask(llm, "one").headers["x-rubberduck-cache"] == "hit"
    with pytest.raises(RubberduckError) as missing:
        llm.cache.delete("0" * 64)
    assert missing.value.status == 404


def test_it_exports_clears_and_imports_a_recording(llm, openai_upstream, tmp_path):
    ask(llm, "one")
    ask(llm, "two")
    keys = sorted(e["key"] for e in recorded(llm, 2))

    file = llm.cache.export(tmp_path / "deep" / "llm.rubberduck.jsonl")
    header, *lines = file.read_text().splitlines()
    assert json.loads(header)["rubberduck_recording"] == 1 and json.loads(header)["entries"] == 2
    assert [json.loads(line)["key"] for line in lines] == keys  # sorted by key
    assert "sk-test" not in file.read_text()

    assert llm.cache.clear() == 2
    assert llm.cache.ls() == []
    assert llm.cache.import_(file) == {"added": 2, "replaced": 0, "unchanged": 0}
    assert llm.cache.import_(str(file)) == {"added": 0, "replaced": 0, "unchanged": 2}
    calls = len(openai_upstream.requests)
    assert ask(llm, "two").headers["x-rubberduck-cache"] == "hit"
    assert len(openai_upstream.requests) == calls


def test_it_raises_the_line_of_a_bad_recording_and_keeps_the_file_on_a_failed_export(llm, tmp_path):
    ask(llm, "one")
    recorded(llm, 1)
    good = llm.cache.export(tmp_path / "good.jsonl")
    header, entry = good.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f"{header}\n{{not json\n")

    with pytest.raises(RubberduckError) as refused:
        llm.cache.import_(bad)
    assert refused.value.status == 400 and "Line 2" in refused.value.message

    kept = tmp_path / "kept.jsonl"
    kept.write_text("what was there")
    with pytest.raises(RubberduckError) as gone:
        Proxy(llm.client, {**llm.data, "id": llm.id + 100000}).cache.export(kept)
    assert gone.value.status == 404 and kept.read_text() == "what was there"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_it_switches_the_cache_mode_like_any_setting(llm, openai_upstream):
    assert llm.cache_mode == "record"
    ask(llm, "known")
    recorded(llm, 1)

    assert llm.update(cache_mode="replay").cache_mode == "replay"
    assert ask(llm, "known").headers["x-rubberduck-cache"] == "hit"
    calls = len(openai_upstream.requests)
    with pytest.raises(openai.NotFoundError) as unknown:
        ask(llm, "never recorded")
    assert "not recorded" in unknown.value.message
    assert len(openai_upstream.requests) == calls  # never forwarded

    same = llm.client.proxy(llm.name, cache_mode="refresh")  # ensured by name, as other settings are
    assert same.id == llm.id and same.cache_mode == "refresh" == llm.refresh().cache_mode
    assert ask(llm, "known").headers["x-rubberduck-cache"] == "miss"
    with pytest.raises(RubberduckError) as bad:
        llm.update(cache_mode="sometimes")
    assert list(bad.value.field_errors) == ["cache_mode"]


async def test_it_does_the_same_from_async_code(async_rubberduck: AsyncRubberduck, llm, tmp_path):
    ask(llm, "one")
    recorded(llm, 1)
    proxy = await async_rubberduck.get_proxy(llm.name)

    [entry] = await proxy.cache.ls(q="chat")
    file = await proxy.cache.export(tmp_path / "llm.jsonl")
    assert json.loads(file.read_text().splitlines()[1])["key"] == entry["key"]
    await proxy.cache.delete(entry["key"])
    assert await proxy.cache.ls() == []
    assert await proxy.cache.import_(file) == {"added": 1, "replaced": 0, "unchanged": 0}
    assert (await proxy.update(cache_mode="off")).cache_mode == "off"
    assert await proxy.cache.clear() == 1
