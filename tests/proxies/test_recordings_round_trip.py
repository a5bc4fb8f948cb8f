"""Recordings end to end through every provider's official SDK: record a plain call and a stream on one proxy, export
the recording over the REST API, import it into a second proxy (in the same runner) whose upstream is a closed port
and whose cache mode is `replay`, and get the same answers there, the stream as a stream at its recorded pace; a call
not recorded raises the SDK's error at once, never retried, never forwarded."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import orjson
import pytest

from tests.conftest import flushed_logs, wait_until
from tests.fakes.server import FakeUpstream
from tests.proxies.sdk_adapters import ADAPTERS, PROVIDERS, SDK, load

# Sent by the fake between a stream's chunks, so the recording has gaps a paced replay must keep.
CHUNK_DELAY = 0.03
# What each SDK sends as its credentials (sdk_adapters.py): none may reach a recording.
SECRETS = ["sk-test", "azure-key", "sk-ant-test", "AKIACLIENT0000000001", "client-secret-key", "AIza-test-key",
           "ya29.test-token", "AKIASERVER0000000001", "server-secret-key", "session-cookie-value"]  # fmt: skip
# The error each SDK raises for a call a replaying proxy has not recorded (404: none of them retries it).
NOT_RECORDED_ERRORS = {
    "openai": "openai.NotFoundError",
    "azure_openai": "openai.NotFoundError",
    "anthropic": "anthropic.NotFoundError",
    "bedrock": "botocore.exceptions.ClientError",
    "vertex": "google.genai.errors.ClientError",
    "gemini": "google.genai.errors.ClientError",
}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_gaps_and_cookie(respond):
    """The fake's answers, streams sent with gaps between chunks, and a cookie and an id no recording may keep."""

    def wrapped(received):
        reply = respond(received)
        reply.headers = [*reply.headers, ("set-cookie", "sid=session-cookie-value"), ("x-request-id", "req-1")]
        if reply.chunks is not None:
            reply.chunk_delay = CHUNK_DELAY
        return reply

    return wrapped


@pytest.fixture(params=PROVIDERS)
def sdk(request, monkeypatch, tmp_path, api, runner, make_proxy):
    adapter = ADAPTERS[request.param]
    adapter.prepare(monkeypatch, tmp_path)
    upstream = FakeUpstream(with_gaps_and_cookie(adapter.respond())).start()
    try:
        proxy = make_proxy(request.param, upstream_url=adapter.upstream_url(upstream))
        yield SDK(adapter, upstream, proxy, api, runner)
    finally:
        upstream.stop()


def replaying_proxy(sdk: SDK, make_proxy) -> dict:
    """A second proxy of the same provider whose upstream refuses every connection, replaying at recorded pace."""
    nowhere_url = sdk.adapter.upstream_url(SimpleNamespace(url=f"http://127.0.0.1:{closed_port()}"))
    return make_proxy(sdk.adapter.provider, upstream_url=nowhere_url, cache_mode="replay", replay="recorded")


def test_it_replays_a_recording_through_the_sdk_with_no_upstream(sdk: SDK, api, runner, make_proxy):
    recorded_answer = sdk.call(sdk.proxy, "a recorded question")
    recorded_stream = sdk.stream(sdk.proxy, "a recorded stream")
    assert recorded_answer and "".join(recorded_stream)
    upstream_calls = len(sdk.upstream.requests)
    assert upstream_calls == 2

    source = sdk.proxy["id"]
    wait_until(lambda: api.get(f"/api/v1/proxies/{source}/cache/").json()["count"] == 2)
    exported = api.get(f"/api/v1/proxies/{source}/cache/export")
    assert exported.status_code == 200
    assert exported["Content-Type"] == "application/x-ndjson"
    assert exported["Content-Disposition"] == f'attachment; filename="{sdk.proxy["name"]}.rubberduck.jsonl"'
    text = b"".join(exported.streaming_content)
    header, *entries = [orjson.loads(line) for line in text.splitlines()]
    assert header["rubberduck_recording"] == 1 and header["provider"] == sdk.adapter.provider
    assert header["entries"] == 2 and len(entries) == 2
    assert [e["key"] for e in entries] == sorted(e["key"] for e in entries)
    stream = next(e for e in entries if e["chunks"] is not None)
    offsets = [at for at, _ in stream["chunks"]]
    assert len(offsets) >= 2 and offsets == sorted(offsets)
    assert offsets[-1] >= CHUNK_DELAY * 1000 * 0.9  # the fake waited between chunks: the gaps are recorded
    # nothing of the requests' credentials nor of the answers' per-call headers
    for secret in SECRETS:
        assert secret.encode() not in text, secret
    for entry in entries:
        names = {name for name, _ in entry["headers"]}
        assert all(name == "content-type" or name.endswith("token-count") for name in names), names

    replaying = replaying_proxy(sdk, make_proxy)
    imported = api.post(
        f"/api/v1/proxies/{replaying['id']}/cache/import", data=text, content_type="application/x-ndjson"
    )
    assert imported.status_code == 200, imported.content
    assert imported.json() == {"added": 2, "replaced": 0, "unchanged": 0}

    assert sdk.call(replaying, "a recorded question") == recorded_answer
    started = time.monotonic()
    assert sdk.stream(replaying, "a recorded stream") == recorded_stream
    assert time.monotonic() - started >= offsets[-1] / 1000 * 0.9  # replayed at its recorded pace, not at once

    with pytest.raises(load(NOT_RECORDED_ERRORS[sdk.adapter.provider])) as raised:
        sdk.call(replaying, "never recorded", retries=3)
    assert sdk.adapter.status_and_code(raised.value)[0] == 404
    assert "not recorded" in str(raised.value) and "cache key" in str(raised.value)
    assert len(sdk.upstream.requests) == upstream_calls  # nothing reached an upstream

    entries = wait_until(lambda: (logs := flushed_logs(runner, replaying["id"])) and len(logs) == 3 and logs)
    assert [(e.cache, e.failure) for e in entries] == [("hit", None), ("hit", None), ("miss", "not_recorded")]
