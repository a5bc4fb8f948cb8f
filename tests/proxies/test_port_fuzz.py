"""Each provider's proxy port under generated requests (Hypothesis): request lines, headers (framing ones among
them: Content-Length, Transfer-Encoding, Expect, Connection, Upgrade) and bodies, well- and ill-formed, sent raw.

Whatever comes, no answer is a 500, nothing is logged with a traceback, the proxy still answers a healthy request
afterwards, and every request that reached its app has exactly one log entry. A short run by default (`make
test`); by hand, more: `RUBBERDUCK_FUZZ_EXAMPLES=500 pytest tests/proxies/test_port_fuzz.py`.
"""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import flushed_logs, run_async, wait_until
from tests.fakes.server import FakeUpstream, Reply
from tests.proxies.port_client import exchange, healthy, provider_shaped, statuses

EXAMPLES = int(os.environ.get("RUBBERDUCK_FUZZ_EXAMPLES", "0")) or 25

PATHS = {
    "openai": [b"/v1/chat/completions", b"/v1/responses", b"/v1/embeddings", b"/v1/files", b"/v1/models"],
    "azure_openai": [b"/openai/deployments/d/chat/completions?api-version=2024-10-21", b"/openai/v1/responses"],
    "anthropic": [b"/v1/messages", b"/v1/messages/count_tokens", b"/v1/models"],
    "bedrock": [b"/model/m/invoke", b"/model/m/converse-stream", b"/model/m/converse"],
    "vertex": [b"/v1/projects/p/locations/l/publishers/google/models/g:generateContent"],
    "gemini": [b"/v1beta/models/g:generateContent", b"/v1beta/models/g:streamGenerateContent?alt=sse"],
}
HEADER_NAMES = [b"content-type", b"content-length", b"transfer-encoding", b"expect", b"connection", b"upgrade",
                b"authorization", b"x-api-key", b"host", b"accept-encoding", b"x-\xff\xfe"]  # fmt: skip
HEADER_VALUES = [b"application/json", b"chunked", b"100-continue", b"close", b"keep-alive", b"websocket", b"0",
                 b"-1", b"5", b"99999999999999", b"gzip", b"\xc3\xa9\xff", b"a" * 300, b""]  # fmt: skip
BODIES = [b"", b"{}", b'{"model": "m", "messages": []}', b'{"model": "m", "stream": true, "contents": []}',
          b"[1, 2", b"\xff\xfe\x00"]  # fmt: skip

FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="RUBBERDUCK_FUZZ_EXAMPLES" not in os.environ,  # the short run is the same every time
    suppress_health_check=list(HealthCheck),
)


def request(provider: str):
    """A request as bytes: sometimes a modeled one, sometimes anything."""
    method = st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"CONNECT"]) | st.binary(
        max_size=6
    )
    path = st.sampled_from(PATHS[provider]) | st.binary(max_size=30).map(lambda b: b"/" + b)
    version = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"", b"http/1.1"])
    header = st.tuples(
        st.sampled_from(HEADER_NAMES) | st.binary(min_size=1, max_size=10),
        st.sampled_from(HEADER_VALUES) | st.binary(max_size=20),
    )
    body = st.sampled_from(BODIES) | st.binary(max_size=300)
    framing = st.sampled_from(["length", "none", "chunked", "broken chunks", "short", "long"])
    separator = st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r"])

    @st.composite
    def build(draw) -> tuple[bytes, ...]:
        eol = draw(separator)
        head = [draw(method) + b" " + draw(path) + b" " + draw(version), b"Host: 127.0.0.1"]
        head += [name + b": " + value for name, value in draw(st.lists(header, max_size=6))]
        content, how = draw(body), draw(framing)
        if how == "length":
            head.append(b"Content-Length: %d" % len(content))
        elif how == "short":
            head.append(b"Content-Length: %d" % (len(content) + 10))
        elif how == "long":
            head.append(b"Content-Length: %d" % max(0, len(content) - 1))
        elif how in ("chunked", "broken chunks"):
            head.append(b"Transfer-Encoding: chunked")
            content = b"%x\r\n%s\r\n0\r\n\r\n" % (len(content), content) if how == "chunked" else b"5\r\nab" + content
        raw = eol.join(head) + eol + eol + content
        cut = draw(st.integers(0, len(raw)))
        # in one piece, or in two (a slow client), or twice (pipelined)
        return draw(st.sampled_from([(raw,), (raw[:cut], raw[cut:]), (raw + raw,)]))

    return build()


@pytest.fixture
def upstream():
    # Whatever reaches it gets a 200: a 500 the fuzz sees is the proxy's own.
    upstream = FakeUpstream(lambda request: Reply(200, [("content-type", "application/json")], b"{}")).start()
    yield upstream
    upstream.stop()


@pytest.mark.parametrize("provider", list(PATHS))
def test_it_never_answers_500_nor_logs_a_traceback_and_logs_each_request_once(
    provider, settings, make_proxy, runner, upstream, caplog
):
    settings.RUBBERDUCK_CLIENT_TIMEOUT_SECONDS = 1.0  # a request left unfinished is cut soon
    caplog.set_level(logging.WARNING)
    proxy = make_proxy(provider, upstream_url=upstream.url)
    port, app = proxy["port"], runner.running[proxy["id"]].server.app

    @given(parts=request(provider))
    @FUZZ
    def fuzz(parts):
        answer = run_async(exchange(port, *parts, pause=0.01, wait=0.3))
        assert 500 not in statuses(answer), (parts, answer[:400])
        status = statuses(answer)[:1]
        # The upstream answers 200, or 501 to a method it lacks: any other error is the proxy's own.
        if status and status[0] >= 400 and status[0] != 501 and not parts[0].startswith(b"HEAD "):
            assert provider_shaped(provider, answer, status[0]), (parts, answer[:400])

    fuzz()
    assert provider_shaped(provider, run_async(exchange(port, healthy(port))), 404)
    assert [r for r in caplog.records if r.exc_info] == []
    wait_until(lambda: app.counters.in_flight == 0, timeout=15)  # those left unfinished are cut by then
    assert len(flushed_logs(runner, proxy["id"])) == app.counters.requests
