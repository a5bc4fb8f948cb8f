"""The request memo: a repeat is routed and keyed once; anything that could change either is a new entry."""

import providers
from providers.base import Fault, Route
from proxies.cache_key import cache_key
from proxies.failures import Chaos
from proxies.flow import Flow, ProxySettings
from proxies.records import LogRecord
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

    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", x_api_key="sk-other"))) == (
        route,
        "k1",
        None,
    )
    assert memo.get(memo.fingerprint(*request(anthropic_version="2024-01-01"))) is None
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", content_type="text/plain"))) is None
    assert memo.get(memo.fingerprint(*request(BODY + b" ", anthropic_version="2023-06-01"))) is None
    beta = [(b"anthropic-beta", b"tools-2024-04-04")]
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", raw_headers=beta))) is None
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", raw_headers=[(b"x-other", b"1")]))) == (
        route,
        "k1",
        None,
    )


def test_a_cache_directive_is_part_of_the_fingerprint_and_remembered_with_the_key():
    memo = RequestMemo(providers.get("anthropic"))
    route = Route("messages", model="claude-x")
    skip = [(b"x-rubberduck-cache", b"skip")]
    memo.put(memo.fingerprint(*request(anthropic_version="2023-06-01", raw_headers=skip)), route, "k1", "skip")

    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01", raw_headers=skip))) == (
        route,
        "k1",
        "skip",
    )
    assert memo.get(memo.fingerprint(*request(anthropic_version="2023-06-01"))) is None


def test_it_is_bounded_in_entries_and_body_size():
    memo = RequestMemo(providers.get("openai"), entries=2, max_body=64)
    assert memo.fingerprint(*request(b"x" * 65)) is None
    for i in range(3):
        memo.put(memo.fingerprint(*request(b"%d" % i)), Route("chat"), f"k{i}")
    assert memo.get(memo.fingerprint(*request(b"0"))) is None  # the oldest went
    assert memo.get(memo.fingerprint(*request(b"2"))) == (Route("chat"), "k2", None)


def flow_of(provider_id: str, method: str, path: str, body: bytes = BODY, query: str = "") -> Flow:
    """A flow as the app has it once the body is read: its provider's settings, headers as ASGI gives them."""
    headers = [(b"content-type", b"application/json"), (b"anthropic-version", b"2023-06-01"), (b"x-api-key", b"sk")]
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": headers}
    settings = ProxySettings(1, 1, providers.get(provider_id), "", "instant", Chaos({}), private_networks=True)
    flow = Flow(settings, scope, None, None, LogRecord(1, 1, 0.0, "127.0.0.1", method, path))
    flow.body, flow.query = body, query
    return flow


def test_it_resolves_a_repeat_the_cache_answered_without_building_its_request():
    provider = providers.get("anthropic")
    memo = RequestMemo(provider)
    first = flow_of("anthropic", "POST", "/v1/messages")
    memo.resolve(first)
    request = first.request
    assert first.route == provider.route(request) and first.refused is None
    key_path, key_query, key_headers = provider.cache_key_parts(request, first.route)
    assert first.key == cache_key("POST", key_path, key_query, key_headers, BODY)

    memo.resolve(again := flow_of("anthropic", "POST", "/v1/messages"))
    assert again.key == first.key and len(memo) == 0  # a miss is not remembered
    memo.remember(first)
    memo.resolve(repeat := flow_of("anthropic", "POST", "/v1/messages"))
    assert (repeat.route, repeat.key, repeat._request) == (first.route, first.key, None)
    memo.remember(repeat)  # known already: nothing new
    assert len(memo) == 1


def test_it_resolves_a_refusal_and_an_uncacheable_route_without_a_key():
    memo = RequestMemo(providers.get("anthropic"))
    memo.resolve(unknown := flow_of("anthropic", "POST", "/nowhere"))
    assert unknown.refused.fault is Fault.NOT_FOUND and unknown.route is None and unknown.key is None
    memo.resolve(unmodelled := flow_of("anthropic", "POST", "/v1/nowhere"))
    assert unmodelled.route.passthrough and unmodelled.key is None and unmodelled.refused is None
    memo.resolve(batch := flow_of("anthropic", "POST", "/v1/messages/batches"))
    assert batch.route.cacheable is False and batch.key is None and batch.refused is None


def test_it_knows_a_pass_through_by_its_method_and_path_alone():
    memo = RequestMemo(providers.get("openai"))
    assert memo.passthrough("GET", "/v1/files").passthrough
    assert memo.passthrough("GET", "/v1/chat/completions").passthrough  # stored completions, not a chat
    assert memo.passthrough("POST", "/v1/chat/completions") is None  # modelled: routed once its body is read
    assert memo.passthrough("GET", "/nowhere") is None  # refused once routed
    assert memo.passthrough("GET", "/v1/../admin") is None  # a dot segment names no API path


def test_it_never_remembers_a_body_over_its_bound():
    memo = RequestMemo(providers.get("anthropic"), max_body=16)
    for _ in range(2):
        memo.resolve(flow := flow_of("anthropic", "POST", "/v1/messages"))
        assert flow.key is not None
        memo.remember(flow)
    assert len(memo) == 0
