"""`rubberduck cache ls|rm|export|import|clear` against a real server (tests/cli/conftest.py)."""

import json

import openai
import pytest

from rubberduck_client import Rubberduck
from tests.conftest import wait_until


@pytest.fixture
def client(server):
    with Rubberduck(server.url, server.token) as rd:
        yield rd


@pytest.fixture
def proxy(client, upstream, request):
    name = request.node.name.removeprefix("test_")[:40]
    made = client.create_proxy(name, provider="openai", model_name="gpt-4o-mini", upstream_url=upstream.url + "/v1")
    yield made
    made.delete(missing_ok=True)


def ask(proxy, text, model="gpt-4o-mini"):
    sdk = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    return sdk.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": text}])


def stored(proxy, count):
    return wait_until(lambda: len(found := proxy.cache.ls()) == count and found)


def test_it_lists_the_cache_as_a_table_and_as_json_with_filters(run, proxy):
    assert run("cache", "ls", proxy.name).output == "No cached answers.\n"
    ask(proxy, "one")
    ask(proxy, "two", model="gpt-4o")
    entries = stored(proxy, 2)

    table = run("cache", "ls", proxy.name)
    assert table.exit_code == 0, table.output
    header, *rows, total = table.output.splitlines()
    assert header.split() == ["KEY", "METHOD", "PATH", "MODEL", "STATUS", "STREAM", "SIZE", "HITS", "RECORDED"]
    assert sorted(row.split()[0] for row in rows) == sorted(e["key"][:12] for e in entries)
    assert all(row.split()[1:3] == ["POST", "/v1/chat/completions"] for row in rows)
    assert total.startswith("2 answer(s), ") and total.endswith(", 0 hit(s)")

    by_model = json.loads(run("cache", "ls", str(proxy.id), "--model", "gpt-4o", "--json").output)
    assert [e["model"] for e in by_model] == ["gpt-4o"]
    assert json.loads(run("cache", "ls", proxy.name, "-q", entries[0]["key"][:16], "--json").output) == [entries[0]]
    assert json.loads(run("cache", "ls", proxy.name, "--path", "embeddings", "--json").output) == []


def test_it_deletes_one_answer_by_the_start_of_its_key(run, proxy):
    ask(proxy, "one")
    [entry] = stored(proxy, 1)

    unknown = run("cache", "rm", proxy.name, "ffffffffffff0000")
    assert unknown.exit_code == 1 and "no cached answer with a key starting" in unknown.output

    deleted = run("cache", "rm", proxy.name, entry["key"][:12])
    assert deleted.exit_code == 0 and deleted.output == f"Deleted {entry['key']} from {proxy.name}.\n"
    assert proxy.cache.ls() == []
    assert ask(proxy, "one").headers["x-rubberduck-cache"] == "miss"


def test_it_exports_clears_and_imports_a_recording(run, proxy, tmp_path):
    ask(proxy, "one")
    ask(proxy, "two")
    keys = sorted(e["key"] for e in stored(proxy, 2))
    file = tmp_path / "proxy.rubberduck.jsonl"

    exported = run("cache", "export", proxy.name, str(file))
    assert exported.exit_code == 0 and exported.output == f"Exported the cache of {proxy.name} to {file}.\n"
    assert [json.loads(line)["key"] for line in file.read_text().splitlines()[1:]] == keys

    cleared = run("cache", "clear", proxy.name)
    assert cleared.exit_code == 0 and cleared.output == f"Cleared 2 cached answer(s) of {proxy.name}.\n"

    imported = run("cache", "import", proxy.name, str(file))
    assert imported.output == f"Imported {file} into {proxy.name}: 2 added, 0 replaced, 0 unchanged.\n"
    again = json.loads(run("cache", "import", str(proxy.id), str(file), "--json").output)
    assert again == {"added": 0, "replaced": 0, "unchanged": 2}
    assert ask(proxy, "two").headers["x-rubberduck-cache"] == "hit"


def test_it_says_which_line_of_a_recording_is_bad(run, proxy, tmp_path):
    file = tmp_path / "bad.jsonl"
    file.write_text('{"rubberduck_recording": 1, "provider": "anthropic", "key_version": "rk1", "entries": 0}\n')

    refused = run("cache", "import", proxy.name, str(file))

    assert refused.exit_code == 1
    assert refused.output.startswith("Error: Line 1: ") and "anthropic" in refused.output
    assert run("cache", "import", proxy.name, str(tmp_path / "missing.jsonl")).exit_code == 2
