"""The RPM limit: per proxy, the provider's own 429 with its rate-limit headers; in memory by default, shared
through Redis (an atomic sliding window) when REDIS_URL is set."""

import asyncio
import threading
import uuid

import httpx
import pytest

from proxies import ratelimit
from proxies.ratelimit import RateLimiter, RedisRateLimiter
from tests.conftest import flushed_logs, require_service, wait_until
from tests.proxies.sdk_adapters import PROVIDERS, sdk_fixture

REDIS_URL = "redis://127.0.0.1:6379/0"
# The limit's own rate-limit headers, by provider (None: the provider has none on its 429).
LIMIT_HEADERS = {
    "openai": ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests"),
    "azure_openai": ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests"),
    "anthropic": ("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining"),
}


def test_the_in_memory_window_admits_the_limit_then_says_how_long_to_wait(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    limiter = RateLimiter()
    admitted = []
    for _ in range(3):
        admitted.append(limiter.hit(3))
        now[0] += 10
    assert admitted == [None, None, None]  # at 1000, 1010 and 1020
    assert limiter.hit(3) == 30  # at 1030: the admission at 1000 leaves the window in 30 s
    now[0] = 1060
    assert limiter.hit(3) is None  # ... and then its slot is free
    assert limiter.hit(3) == 10  # the next slot frees at 1070


@pytest.fixture(params=PROVIDERS)
def sdk(request, monkeypatch, tmp_path, api, runner, make_proxy):
    yield from sdk_fixture(request, monkeypatch, tmp_path, api, runner, make_proxy)


def test_the_request_over_the_limit_gets_the_providers_own_429(sdk):
    sdk.set_failures({"rpm_limit": 2})
    assert sdk.call(sdk.proxy, "one") and sdk.call(sdk.proxy, "two")
    with pytest.raises(sdk.error_class(429)) as caught:
        sdk.call(sdk.proxy, "three")
    status, code = sdk.status_and_code(caught.value)
    assert status == 429
    if sdk.errors[429][1] is not None:
        assert code == sdk.errors[429][1]
    headers = {k.lower(): v for k, v in sdk.headers(caught.value).items()}
    assert headers.get("x-rubberduck-failure") == "rate_limit"
    if sdk.provider in LIMIT_HEADERS:
        limit, remaining = LIMIT_HEADERS[sdk.provider]
        assert (headers[limit], headers[remaining]) == ("2", "0")
    if sdk.provider in ("openai", "azure_openai", "anthropic"):
        assert 55 <= int(headers["retry-after"]) <= 60
    if sdk.provider == "bedrock":
        assert 55_000 <= int(headers["x-amz-retry-after"]) <= 60_000
    assert len(sdk.upstream.requests) == 2
    entries = wait_until(lambda: len(e := flushed_logs(sdk.runner, sdk.proxy["id"])) >= 3 and e)
    assert [(e.status_code, e.failure) for e in entries] == [(200, None), (200, None), (429, "rate_limit")]


def test_each_proxy_has_its_own_count_and_a_config_edit_keeps_it(api, runner, make_proxy, openai_upstream):
    one = make_proxy("openai", upstream_url=openai_upstream.url + "/v1", name="one")
    two = make_proxy("openai", upstream_url=openai_upstream.url + "/v1", name="two")
    body = {"model": "gpt-4o-mini", "messages": []}
    for proxy in (one, two):
        api.put(f"/api/v1/proxies/{proxy['id']}/failures", {"rpm_limit": 1}, format="json")
    runner.reconcile()
    assert httpx.post(one["base_url"] + "/chat/completions", json=body).status_code == 200
    assert httpx.post(two["base_url"] + "/chat/completions", json=body).status_code == 200
    assert httpx.post(one["base_url"] + "/chat/completions", json=body).status_code == 429
    api.put(f"/api/v1/proxies/{one['id']}/failures", {"rpm_limit": 1, "seed": 1}, format="json")
    runner.reconcile()
    assert httpx.post(one["base_url"] + "/chat/completions", json=body).status_code == 429
    api.put(f"/api/v1/proxies/{one['id']}/failures", {"rpm_limit": 5}, format="json")
    runner.reconcile()
    assert httpx.post(one["base_url"] + "/chat/completions", json=body).status_code == 200


@pytest.fixture
def redis_prefix(monkeypatch):
    """A key prefix of this test's own, so parallel runs sharing the machine's Redis never meet."""
    require_service("Redis", "127.0.0.1", 6379)
    prefix = f"rubberduck:test-{uuid.uuid4().hex[:8]}:rpm:"
    monkeypatch.setattr(ratelimit, "KEY_PREFIX", prefix)
    yield prefix
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)
    client.close()


def run_in_own_loop(coroutine_function, *args):
    """Runs a coroutine on a fresh event loop in another thread, as another runner process would."""
    result = {}

    def target():
        result["value"] = asyncio.run(coroutine_function(*args))

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    return result["value"]


def test_two_redis_limiters_with_the_same_proxy_id_share_one_window(redis_prefix):
    async def hits(limiter, n, limit):
        try:
            return [await limiter.ahit(limit) for _ in range(n)]
        finally:
            await limiter.aclose()

    first, second, other = (
        RedisRateLimiter(REDIS_URL, 7),
        RedisRateLimiter(REDIS_URL, 7),
        RedisRateLimiter(REDIS_URL, 8),
    )
    assert run_in_own_loop(hits, first, 3, 5) == [None, None, None]
    refused = run_in_own_loop(hits, second, 3, 5)
    assert refused[:2] == [None, None] and 55 <= refused[2] <= 60
    assert run_in_own_loop(hits, other, 1, 5) == [None]  # another proxy id has its own window


def test_the_redis_window_slides(redis_prefix):
    async def scenario():
        limiter = RedisRateLimiter(REDIS_URL, 9, window=0.5)
        try:
            admitted = [await limiter.ahit(2) for _ in range(3)]
            await asyncio.sleep(0.6)
            return admitted, await limiter.ahit(2)
        finally:
            await limiter.aclose()

    admitted, later = asyncio.run(scenario())
    assert admitted[:2] == [None, None] and admitted[2] == 1
    assert later is None


def test_concurrent_hits_never_admit_more_than_the_limit(redis_prefix):
    async def burst(limiter):
        try:
            return await asyncio.gather(*(limiter.ahit(10) for _ in range(25)))
        finally:
            await limiter.aclose()

    results = [None, None]
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, asyncio.run(burst(RedisRateLimiter(REDIS_URL, 5)))))
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(r is None for batch in results for r in batch) == 10


def test_an_unreachable_redis_falls_back_to_this_processs_count(redis_prefix):
    async def scenario():
        limiter = RedisRateLimiter("redis://127.0.0.1:9/0", 3)
        try:
            return [await limiter.ahit(2) for _ in range(3)]
        finally:
            await limiter.aclose()

    admitted = asyncio.run(scenario())
    assert admitted[:2] == [None, None] and admitted[2] >= 59


def test_with_redis_url_the_runner_shares_a_proxys_count_with_other_processes(
    redis_prefix, settings, api, runner, make_proxy, openai_upstream
):
    settings.REDIS_URL = REDIS_URL
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", {"rpm_limit": 3}, format="json")
    runner.reconcile()
    assert isinstance(runner.limiters[proxy["id"]], RedisRateLimiter)
    url, body = proxy["base_url"] + "/chat/completions", {"model": "gpt-4o-mini", "messages": []}
    assert httpx.post(url, json=body).status_code == 200

    async def elsewhere():  # another runner process, serving the same proxy id, admits two
        limiter = RedisRateLimiter(REDIS_URL, proxy["id"])
        try:
            return [await limiter.ahit(3) for _ in range(2)]
        finally:
            await limiter.aclose()

    assert run_in_own_loop(elsewhere) == [None, None]
    refused = httpx.post(url, json=body)
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert refused.headers["x-rubberduck-failure"] == "rate_limit"
    assert len(openai_upstream.requests) == 1
    entries = wait_until(lambda: len(e := flushed_logs(runner, proxy["id"])) >= 2 and e)
    assert [(e.status_code, e.failure) for e in entries] == [(200, None), (429, "rate_limit")]
