"""The remote commands against a real server (tests/cli/conftest.py): tables for people, --json for scripts,
exit code 1 and one line on an error, 2 on a usage error."""

import json
import subprocess
import sys
import time

import httpx
import openai
import pytest
from django.conf import settings

from rubberduck_client import Rubberduck
from tests.cli.conftest import rubberduck
from tests.test_serve import free_port


@pytest.fixture
def client(server):
    with Rubberduck(server.url, server.token) as rd:
        yield rd


@pytest.fixture
def proxy(client, upstream, request):
    """A running openai proxy named after the test, in front of the fake upstream."""
    name = request.node.name.removeprefix("test_")[:40]
    made = client.create_proxy(name, provider="openai", model_name="gpt-4o-mini", upstream_url=upstream.url + "/v1")
    yield made
    made.delete(missing_ok=True)


def ask(proxy, text="hi"):
    sdk = openai.OpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    return sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )


def test_it_lists_proxies_as_a_table_and_as_json(run, proxy):
    table = run("proxies", "ls")
    assert table.exit_code == 0, table.output
    header, *rows = table.output.splitlines()
    assert header.split() == ["ID", "NAME", "PROVIDER", "STATUS", "PORT", "BASE", "URL"]
    assert any(row.split()[:4] == [str(proxy.id), proxy.name, "openai", "running"] for row in rows)

    listed = json.loads(run("proxies", "ls", "--json").output)
    assert {p["name"]: p["base_url"] for p in listed}[proxy.name] == proxy.base_url
    assert json.loads(run("proxies", "ls", "--status", "stopped", "--json").output) == [
        p for p in listed if p["status"] == "stopped"
    ]


def test_it_shows_a_proxy_by_name_or_by_id(run, proxy):
    by_name = run("proxies", "show", proxy.name)
    assert by_name.exit_code == 0 and f"base_url      {proxy.base_url}" in by_name.output
    assert json.loads(run("proxies", "show", str(proxy.id), "--json").output) == proxy.refresh().data


def test_it_stops_and_starts_a_proxy(run, proxy):
    stopped = run("proxies", "stop", proxy.name)
    assert stopped.exit_code == 0 and stopped.output.startswith(f"{proxy.name}: stopped")
    with pytest.raises(openai.APIConnectionError):
        ask(proxy)

    started = run("proxies", "start", proxy.name, "--json")
    assert started.exit_code == 0 and json.loads(started.output)["status"] == "running"
    assert ask(proxy).parse().choices[0].message.content


def test_it_deletes_a_proxy(run, proxy, client):
    deleted = run("proxies", "rm", str(proxy.id))
    assert deleted.exit_code == 0 and deleted.output == f"Deleted {proxy.name}.\n"
    assert proxy.name not in [p.name for p in client.proxies()]


def test_it_sets_failures_from_flags_and_resets_them(run, proxy):
    result = run("failures", "set", proxy.name, "--error", "429", "--timeout", "delay:0.2", "--json")
    assert result.exit_code == 0, result.output
    config = {"errors": [{"status": 429, "rate": 1.0}], "timeout": {"mode": "delay", "seconds": 0.2, "rate": 1.0}}
    assert json.loads(result.output) == config == proxy.failures()
    with pytest.raises(openai.RateLimitError):
        ask(proxy)

    reset = run("failures", "reset", proxy.name)
    assert reset.exit_code == 0 and proxy.failures() == {}
    assert ask(proxy).status_code == 200


def test_it_sets_failures_from_a_yaml_file_with_flags_over_it(run, proxy, tmp_path):
    path = tmp_path / "failures.yaml"
    path.write_text("errors:\n  - {status: 500, rate: 1.0}\nrpm_limit: 100\nseed: 7\n")

    result = run("failures", "set", proxy.name, "-f", str(path), "--error", "503:1")

    assert result.exit_code == 0, result.output
    assert proxy.failures() == {"errors": [{"status": 503, "rate": 1.0}], "rpm_limit": 100, "seed": 7}
    assert "status: 503" in result.output  # the config, for people
    with pytest.raises(openai.InternalServerError) as raised:
        ask(proxy)
    assert raised.value.status_code == 503


def test_it_clears_the_cache(run, proxy):
    ask(proxy, "cached")
    assert ask(proxy, "cached").headers["x-rubberduck-cache"] == "hit"

    cleared = run("cache", "clear", proxy.name, "--json")

    assert cleared.exit_code == 0 and json.loads(cleared.output)["deleted"] >= 1
    assert ask(proxy, "cached").headers["x-rubberduck-cache"] == "miss"


def test_it_tails_new_log_entries_over_the_websocket(server, proxy):
    tail = subprocess.Popen(
        [sys.executable, "-m", "rubberduck_cli", "logs", "tail", proxy.name, "-n", "1", "--json"],
        env={**server.env, "RUBBERDUCK_URL": server.url, "RUBBERDUCK_TOKEN": server.token},
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # An entry reaches the sockets open when it is written: ask until one lands after the tail connected.
        deadline = time.monotonic() + 30
        while tail.poll() is None and time.monotonic() < deadline:
            ask(proxy, "tailed")
            time.sleep(0.3)
        out, err = tail.communicate(timeout=5)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    entry = json.loads(out)
    assert (entry["proxy"], entry["path"], entry["status_code"]) == (proxy.id, "/v1/chat/completions", 200)


def test_it_tails_for_people_one_line_an_entry(server, proxy):
    from rubberduck_cli.tail import line

    entry = {"timestamp": "2026-01-01T00:00:00Z", "proxy": proxy.id, "method": "POST", "path": "/v1/chat/completions",
             "status_code": 429, "cache": "miss", "latency_ms": 3.4, "failure": "error", "model": "gpt-4o-mini",
             "prompt_tokens": None, "completion_tokens": None, "cost_usd": None}  # fmt: skip
    assert line(entry, {proxy.id: proxy.name}) == (
        f"2026-01-01T00:00:00Z  {proxy.name}  POST  /v1/chat/completions  429  miss  3 ms  failure=error  gpt-4o-mini"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["proxies", "show", "no-such-proxy"], "Error: You have no proxy named 'no-such-proxy'."),
        (["proxies", "start", "987654"], "Error: You have no proxy named '987654' or with id 987654."),
    ],
)
def test_it_exits_1_with_one_line_when_there_is_no_such_proxy(run, args, message):
    result = run(*args)
    assert (result.exit_code, result.output) == (1, message + "\n")


def test_it_exits_1_with_the_servers_field_errors(run, proxy):
    result = run("failures", "set", proxy.name, "--error", "429:0.8", "--error", "500:0.8")
    assert result.exit_code == 1
    assert result.output == "Error: errors: The error rates add up to more than 1; a request can get only one error.\n"

    result = run("failures", "set", proxy.name, "--error", "200")
    assert result.exit_code == 1 and result.output.startswith("Error: errors[0].status: ")


def test_it_exits_1_on_a_bad_or_missing_token(run):
    bad = run("proxies", "ls", token="rd_not-a-token")
    assert (bad.exit_code, bad.output) == (1, "Error: Invalid token.\n")
    missing = run("proxies", "ls", token=None)
    assert missing.exit_code == 1 and len(missing.output.splitlines()) == 1
    assert "--token or $RUBBERDUCK_TOKEN" in missing.output


def test_it_exits_1_when_the_server_is_unreachable(run):
    result = run("proxies", "ls", url=f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1 and result.output.startswith("Error: Cannot reach Rubberduck at http://127.0.0.1:")


@pytest.mark.parametrize(
    "args",
    [
        ["failures", "set", "some-proxy", "--error", "teapot"],
        ["failures", "set", "some-proxy"],  # nothing to set
        ["failures", "reset"],  # neither a proxy nor --all
        ["proxies", "frobnicate"],
        ["cache", "clear"],
    ],
)
def test_it_exits_2_on_a_usage_error(run, args):
    assert run(*args).exit_code == 2


def test_it_applies_a_declaration_file(run, server, upstream, tmp_path, client):
    if httpx.post(f"{server.url}/api/v1/apply", headers={"authorization": f"Token {server.token}"}).status_code == 404:
        pytest.skip("this server has no POST /api/v1/apply yet (the declarations work is not on this branch)")
    path = tmp_path / "ducks.yaml"
    path.write_text(
        f"version: 1\nproxies:\n  - name: declared\n    provider: openai\n    model_name: gpt-4o-mini\n"
        f"    upstream_url: {upstream.url}/v1\n"
    )
    first = run("apply", "-f", str(path), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["created"] == ["declared"]
    again = run("apply", "-f", str(path))
    assert again.exit_code == 0 and "unchanged: declared" in again.output
    client.get_proxy("declared").delete()


def test_token_create_refuses_an_unknown_email_without_create_user(server):
    result = rubberduck("token", "create", "nobody@example.com", env=server.env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: No user with email nobody@example.com. Use --create-user to create one."
    ]
