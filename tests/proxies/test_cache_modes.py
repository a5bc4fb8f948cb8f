"""Cache modes on a running proxy, through the official openai SDK against the fake api.openai.com: record,
replay (a miss is never forwarded), refresh, off, the per-request `x-rubberduck-cache` header, and a running proxy
following single entries deleted or imported through the API, and clears that report what memory held."""

from __future__ import annotations

import json
import threading

import openai
import orjson
import pytest

from proxies.models import CacheEntry
from tests.conftest import flushed_logs, wait_until
from tests.fakes import openai as fake
from tests.fakes.server import Reply

ANSWER = "Hello from the fake upstream!"


def answer_of(text: str) -> Reply:
    """The fake's chat answer with another text (a newer answer of the same call)."""
    reply = fake.chat({"model": "gpt-4o-mini"})
    body = json.loads(reply.body)
    body["choices"][0]["message"]["content"] = text
    return Reply(200, reply.headers, json.dumps(body).encode())


@pytest.fixture
def proxy(make_proxy, openai_upstream):
    return make_proxy("openai", upstream_url=openai_upstream.url + "/v1")


def ask(proxy, prompt="hello", *, header=None, retries=0):
    """The raw answer to a chat call: its text and its x-rubberduck-cache header."""
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-modes", max_retries=retries)
    extra = {"x-rubberduck-cache": header} if header else None
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], extra_headers=extra
    )
    return raw.parse().choices[0].message.content, raw.headers.get("x-rubberduck-cache")


def set_mode(api, proxy, mode):
    response = api.patch(f"/api/v1/proxies/{proxy['id']}/", {"cache_mode": mode}, format="json")
    assert response.status_code == 200 and response.json()["cache_mode"] == mode, response.content


def logged(runner, proxy, count):
    return wait_until(lambda: (e := flushed_logs(runner, proxy["id"])) and len(e) >= count and e)


def test_it_records_by_default(api, proxy, openai_upstream):
    assert proxy["cache_mode"] == "record"
    assert [ask(proxy), ask(proxy)] == [(ANSWER, "miss"), (ANSWER, "hit")]
    assert len(openai_upstream.requests) == 1


def test_replay_answers_what_was_recorded_and_never_forwards_a_miss(api, runner, proxy, openai_upstream):
    ask(proxy, "recorded")
    set_mode(api, proxy, "replay")
    assert ask(proxy, "recorded") == (ANSWER, "hit")
    with pytest.raises(openai.NotFoundError) as raised:
        ask(proxy, "not recorded", retries=2)
    assert raised.value.code == "not_recorded" and "was not recorded (cache key " in raised.value.message
    assert raised.value.response.headers["x-rubberduck-failure"] == "not_recorded"
    assert len(openai_upstream.requests) == 1  # the recording only: no retry, nothing forwarded
    entries = logged(runner, proxy, 3)
    assert [(e.cache, e.failure, e.status_code) for e in entries] == [
        ("miss", None, 200),
        ("hit", None, 200),
        ("miss", "not_recorded", 404),
    ]
    assert entries[2].prompt_hash in raised.value.message


def test_refresh_always_forwards_and_keeps_the_newest_answer(api, proxy, openai_upstream):
    ask(proxy)
    set_mode(api, proxy, "refresh")
    openai_upstream.queue(answer_of("newer"))
    assert ask(proxy) == ("newer", "miss")
    set_mode(api, proxy, "record")
    assert ask(proxy) == ("newer", "hit")
    assert len(openai_upstream.requests) == 2
    wait_until(lambda: [b"newer" in bytes(e.body) for e in CacheEntry.objects.filter(proxy_id=proxy["id"])] == [True])


def test_off_neither_reads_nor_writes_the_cache_and_failures_still_apply(api, runner, proxy, openai_upstream):
    ask(proxy)
    set_mode(api, proxy, "off")
    openai_upstream.queue(answer_of("fresh"))
    assert ask(proxy) == ("fresh", None)
    assert ask(proxy, "never stored") == (ANSWER, None)
    assert len(openai_upstream.requests) == 3
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", {"errors": [{"status": 500, "rate": 1.0}]}, format="json")
    with pytest.raises(openai.InternalServerError):
        ask(proxy)
    entries = logged(runner, proxy, 4)
    assert [(e.cache, e.failure) for e in entries[1:]] == [("bypass", None), ("bypass", None), ("bypass", "error")]
    assert entries[1].prompt_hash == entries[0].prompt_hash  # still logged by its key
    assert list(CacheEntry.objects.filter(proxy_id=proxy["id"]).values_list("model", flat=True)) == ["gpt-4o-mini"]


def test_the_header_skips_or_refreshes_one_call_and_is_neither_forwarded_nor_keyed(api, proxy, openai_upstream):
    ask(proxy)
    openai_upstream.queue(answer_of("skipped"), answer_of("refreshed"))
    assert ask(proxy, header="skip") == ("skipped", None)
    assert ask(proxy) == (ANSWER, "hit")  # the skip stored nothing
    assert ask(proxy, header="refresh") == ("refreshed", "miss")
    assert ask(proxy) == ("refreshed", "hit")  # same key with or without the header
    assert ask(proxy, header="skip") == (ANSWER, None)  # the fake's own answer again: forwarded
    assert len(openai_upstream.requests) == 4
    assert all("x-rubberduck-cache" not in r.headers for r in openai_upstream.requests)
    with pytest.raises(openai.BadRequestError) as raised:
        ask(proxy, header="sometimes")
    assert "x-rubberduck-cache" in raised.value.message
    assert len(openai_upstream.requests) == 4


def test_the_header_overrides_replay_for_one_call(api, proxy, openai_upstream):
    set_mode(api, proxy, "replay")
    with pytest.raises(openai.NotFoundError):
        ask(proxy)
    assert ask(proxy, header="refresh") == (ANSWER, "miss")
    assert ask(proxy) == (ANSWER, "hit")
    assert len(openai_upstream.requests) == 1


def test_cache_mode_is_checked_kept_by_a_clone_and_declared(api, proxy, user):
    bad = api.patch(f"/api/v1/proxies/{proxy['id']}/", {"cache_mode": "sometimes"}, format="json")
    assert bad.status_code == 400 and "cache_mode" in bad.json()
    set_mode(api, proxy, "replay")
    clone = api.post(f"/api/v1/proxies/{proxy['id']}/clone", {}, format="json")
    assert clone.status_code == 201 and clone.json()["cache_mode"] == "replay"
    declaration = {"proxies": [{"name": "ci", "provider": "openai", "model_name": "m", "cache_mode": "refresh"}]}
    assert api.post("/api/v1/apply", declaration, format="json").json()["created"] == ["ci"]
    assert api.get("/api/v1/proxies/?name=ci").json()[0]["cache_mode"] == "refresh"
    declaration["proxies"][0].pop("cache_mode")  # left out: the default again
    assert api.post("/api/v1/apply", declaration, format="json").json()["changed"] == ["ci"]
    assert api.get("/api/v1/proxies/?name=ci").json()[0]["cache_mode"] == "record"


def keys_of(proxy):
    return set(CacheEntry.objects.filter(proxy_id=proxy["id"]).values_list("key", flat=True))


def test_deleting_one_answer_makes_the_running_proxy_forget_it(api, runner, proxy, openai_upstream):
    ask(proxy, "forget me")
    ask(proxy, "keep me")
    assert ask(proxy, "forget me")[1] == "hit"  # in memory
    wait_until(lambda: len(keys_of(proxy)) == 2)
    forgotten = flushed_logs(runner, proxy["id"])[0].prompt_hash
    assert api.delete(f"/api/v1/proxies/{proxy['id']}/cache/{forgotten}").status_code == 204
    assert ask(proxy, "forget me")[1] == "miss"
    assert ask(proxy, "keep me")[1] == "hit"
    assert len(openai_upstream.requests) == 3


def test_an_import_is_served_at_once_by_the_running_proxy(api, proxy, openai_upstream):
    ask(proxy, "recorded")
    assert ask(proxy, "recorded") == (ANSWER, "hit")  # in memory
    wait_until(lambda: len(keys_of(proxy)) == 1)
    exported = b"".join(api.get(f"/api/v1/proxies/{proxy['id']}/cache/export").streaming_content)
    header, line = exported.splitlines()
    entry = orjson.loads(line)
    entry["body"] = entry["body"].replace(ANSWER, "imported")
    response = api.post(
        f"/api/v1/proxies/{proxy['id']}/cache/import",
        data=header + b"\n" + orjson.dumps(entry) + b"\n",
        content_type="application/x-ndjson",
    )
    assert response.json() == {"added": 0, "replaced": 1, "unchanged": 0}
    assert ask(proxy, "recorded") == ("imported", "hit")
    assert len(openai_upstream.requests) == 1


def test_a_clear_reports_a_store_in_flight_and_nothing_comes_back(api, runner, proxy, openai_upstream):
    """Two answers are held on the db executor, not yet written, when the clear deletes the (no) rows: the runner's
    clear removes them after they are written and the answer counts them."""
    cache = runner.running[proxy["id"]].server.app.cache
    gate = threading.Event()
    runner.db.submit(gate.wait, 10)  # the db thread is busy: stores queue behind
    ask(proxy, "first")
    ask(proxy, "second")
    wait_until(lambda: not cache._store_scheduled)  # both handed to the db thread, neither written
    assert keys_of(proxy) == set()
    threading.Timer(0.3, gate.set).start()  # released while the clear waits for the runner

    assert api.delete(f"/api/v1/proxies/{proxy['id']}/cache").json() == {"deleted": 2}
    assert keys_of(proxy) == set() and cache.store.filter.keys == 0
    assert ask(proxy, "first")[1] == "miss"
    wait_until(lambda: len(keys_of(proxy)) == 1)  # stored again once asked again: only that one
    assert len(openai_upstream.requests) == 3


def test_a_clear_counts_answers_stored_and_in_memory_once(api, runner, proxy):
    ask(proxy, "stored")
    wait_until(lambda: len(keys_of(proxy)) == 1)
    gate = threading.Event()
    runner.db.submit(gate.wait, 10)
    ask(proxy, "only in memory")
    threading.Timer(0.3, gate.set).start()
    assert api.delete(f"/api/v1/proxies/{proxy['id']}/cache").json() == {"deleted": 2}
    assert keys_of(proxy) == set()
