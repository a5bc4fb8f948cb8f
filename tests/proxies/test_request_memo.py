"""The request memo: a repeat is routed and keyed once; anything that could change either is a new entry."""

import providers
from providers.base import Route
from proxies.request_memo import RequestMemo

BODY = b'{"model":"claude-x","messages":[]}'


def request(body=BODY, raw_headers=(), **headers) -> tuple:
    """The arguments of RequestMemo.fingerprint for a POST /v1/messages with these headers (and raw_headers)."""
    names = {"content_type": "content-type", "anthropic_version": "anthropic-version", "x_api_key": "x-api-key"}
    raw = [(names[k].encode(), v.encode()) for k, v in {"content_type": "application/json", **headers}.items()]
    return "POST", "/v1/messages", "", body, [*raw, *raw_headers]


def test_a_repeat_is_found_and_what_keys_the_cache_is_part_of_the_fingerprint():
    memo = RequestMemo(providers.get("anthropic"))
    route = Route("messages", model="claude-x")
    memo.put(memo.fingerprint(*request(anthropic_version="2023-06-01")), route, "k1")

    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", x_api_key="sk-other"))) == (route, "k1")
    assert memo.get(memo.fingerprint(*request(anthropic_version="2024-01-01"))) is None
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", content_type="text/plain"))) is None
    assert memo.get(memo.fingerprint(*request(BODY + b" ", anthropic_version="2023-06-01"))) is None
    beta = [(b"anthropic-beta", b"tools-2024-04-04")]
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", raw_headers=beta))) is None
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", raw_headers=[(b"x-other", b"1")]))) == (
        route,
        "k1",
    )


def test_it_is_bounded_in_entries_and_body_size():
    memo = RequestMemo(providers.get("openai"), entries=2, max_body=64)
    assert memo.fingerprint(*request(b"x" * 65)) is None
    for i in range(3):
        memo.put(memo.fingerprint(*request(b"%d" % i)), Route("chat"), f"k{i}")
    assert memo.get(memo.fingerprint(*request(b"0"))) is None  # the oldest went
    assert memo.get(memo.fingerprint(*request(b"2"))) == (Route("chat"), "k2")
