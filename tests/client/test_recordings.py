"""The pytest plugin's recordings (--rubberduck-record-mode, --rubberduck-recordings), through pytest itself: a test
file is run in a subprocess against the session's server, once recording from a fake upstream, then replaying with
the upstream unreachable, and its outcomes, the proxies' modes and the recording files are checked."""

import json
import secrets

import pytest

from rubberduck_client.recordings import Recording
from tests.client.test_plugin import INNER, printed

SOURCE = """
import os

import openai


def ask(proxy):
    sdk = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    for prompt in os.environ["PROMPTS"].split(","):
        answer = sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
        )
        print(f"CACHE={answer.headers['x-rubberduck-cache']}")
    print(f"MODE={proxy.refresh().cache_mode}")


def test_named(rubberduck_proxy):
    ask(rubberduck_proxy("openai", name="NAME", model_name="gpt-4o-mini", upstream_url=os.environ["UPSTREAM"]))


def test_unnamed(rubberduck_proxy):
    ask(rubberduck_proxy("openai", model_name="gpt-4o-mini", upstream_url=os.environ["UPSTREAM"]))
"""

KEPT = """

def test_kept(rubberduck):
    ask(rubberduck.get_proxy("NAME-kept"))
"""


@pytest.fixture
def run_suite(pytester, monkeypatch, rubberduck_server, openai_upstream, tmp_path):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    name = f"rec-{secrets.token_hex(3)}"
    server = [f"--rubberduck-url={rubberduck_server.url}", f"--rubberduck-token={rubberduck_server.token}"]

    def run(*args: str, prompts: str = "hello", upstream: str = openai_upstream.url + "/v1", source: str = SOURCE):
        monkeypatch.setenv("PROMPTS", prompts)
        monkeypatch.setenv("UPSTREAM", upstream)
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        pytester.makepyfile(test_inner=source.replace("NAME", name))
        return pytester.runpytest_subprocess(*INNER, *server, *args, timeout=300)

    run.name = name
    return run


def entries(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def test_it_records_once_then_replays_with_the_upstream_unreachable(run_suite, openai_upstream, rubberduck, tmp_path):
    recordings = tmp_path / "recordings"
    named, unnamed = recordings / f"{run_suite.name}.rubberduck.jsonl", recordings / "test_unnamed.rubberduck.jsonl"

    plain = run_suite(f"--rubberduck-recordings={recordings}")
    plain.assert_outcomes(passed=2)
    assert printed(plain, "MODE") == ["record", "record"] and not recordings.exists()  # no option: no recordings

    first = run_suite("--rubberduck-record-mode=once", f"--rubberduck-recordings={recordings}")
    first.assert_outcomes(passed=2)
    assert printed(first, "CACHE") == ["miss", "miss"] and printed(first, "MODE") == ["record", "record"]
    first.stdout.fnmatch_lines(["rubberduck: wrote 2 recording(s): *"])
    [entry] = entries(named)
    assert entry["path"] == "/v1/chat/completions" and entry["model"] == "gpt-4o-mini"
    assert [e["key"] for e in entries(unnamed)] == [
        entry["key"]
    ]  # an unnamed proxy's recording is named after its test
    assert json.loads(named.read_text().splitlines()[0])["entries"] == 1
    assert "sk-test" not in named.read_text()
    recorded = named.read_bytes()
    calls = len(openai_upstream.requests)

    again = run_suite("--rubberduck-record-mode=once", f"--rubberduck-recordings={recordings}")
    again.assert_outcomes(passed=2)
    assert printed(again, "CACHE") == ["hit", "hit"] and printed(again, "MODE") == ["replay", "replay"]
    assert len(openai_upstream.requests) == calls and named.read_bytes() == recorded

    kept = rubberduck.create_proxy(
        f"{run_suite.name}-kept", provider="openai", model_name="m", upstream_url="http://127.0.0.1:9/v1"
    )
    try:
        (recordings / f"{kept.name}.rubberduck.jsonl").write_bytes(recorded)
        offline = run_suite(
            "--rubberduck-record-mode=none", f"--rubberduck-recordings={recordings}",
            upstream="http://127.0.0.1:9/v1", source=SOURCE + KEPT,
        )  # fmt: skip
        offline.assert_outcomes(passed=3)
        assert printed(offline, "CACHE") == ["hit"] * 3 and printed(offline, "MODE") == ["replay"] * 3
        assert kept.refresh().cache_mode == "record"  # a proxy the plugin did not make gets its mode back
    finally:
        kept.delete()

    unrecorded = run_suite(
        "--rubberduck-record-mode=none", f"--rubberduck-recordings={recordings}", prompts="hello,never asked before"
    )
    unrecorded.assert_outcomes(failed=2)
    unrecorded.stdout.fnmatch_lines(["*NotFoundError*this call was not recorded*"])
    assert named.read_bytes() == recorded


def test_it_rerecords_everything_in_mode_all(run_suite, openai_upstream, tmp_path):
    recordings = tmp_path / "recordings"
    run_suite("--rubberduck-record-mode=all", f"--rubberduck-recordings={recordings}").assert_outcomes(passed=2)
    named = recordings / f"{run_suite.name}.rubberduck.jsonl"
    [old] = entries(named)
    calls = len(openai_upstream.requests)

    result = run_suite("--rubberduck-record-mode=all", f"--rubberduck-recordings={recordings}", prompts="hi,hello")

    result.assert_outcomes(passed=2)
    assert printed(result, "MODE") == ["record", "record"] and printed(result, "CACHE") == ["miss"] * 4
    assert len(openai_upstream.requests) == calls + 4
    keys = [entry["key"] for entry in entries(named)]
    assert len(keys) == 2 and keys == sorted(keys) and old["key"] in keys
    assert next(e for e in entries(named) if e["key"] == old["key"])["recorded_at"] > old["recorded_at"]


def test_it_merges_recordings_by_key_and_writes_them_sorted(tmp_path):
    header = {"rubberduck_recording": 1, "provider": "openai", "key_version": "rk1", "exported_at": "x", "entries": 2}
    older = tmp_path / "older.jsonl"
    older.write_text(json.dumps(header) + '\n{"key":"b","v":1}\n{"key":"c","v":1}\n')
    newer = tmp_path / "newer.jsonl"
    newer.write_text(
        json.dumps({**header, "exported_at": "y", "entries": 2}) + '\n{"key":"a","v":2}\n{"key":"b","v":2}\n'
    )

    merged = Recording.read(older).merged(Recording.read(newer))

    head, *lines = merged.text().splitlines()
    assert json.loads(head) == {**header, "exported_at": "y", "entries": 3}
    assert lines == ['{"key":"a","v":2}', '{"key":"b","v":2}', '{"key":"c","v":1}']
