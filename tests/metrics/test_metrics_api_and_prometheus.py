"""GET /api/v1/metrics/ buckets, /metrics (Prometheus) access, and honest costs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from logs.writer import batch_of
from metrics.rollup import Rollup, floor
from providers.base import Usage
from tests.factories import LogRecordFactory, ProxyFactory, write_logs

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_answers_the_users_buckets_with_rates_and_zeros_for_quiet_minutes(api, user, other_user):
    from logs.writer import LogWriter

    mine, theirs = ProxyFactory(owner=user), ProxyFactory(owner=other_user)
    start = floor(timezone.now() - timedelta(minutes=10), 60)
    writer = LogWriter()
    Rollup().attach(writer)
    write_logs(
        LogRecordFactory(proxy=mine, at=start, cache="hit"),
        LogRecordFactory(proxy=mine, at=start + timedelta(seconds=1), status_code=500),
        *[LogRecordFactory(proxy=theirs, at=start) for _ in range(5)],
        writer=writer,
    )
    query = {"window": "1m", "since": start.isoformat(), "until": (start + timedelta(minutes=3)).isoformat()}

    buckets = api.get("/api/v1/metrics/", query).json()

    assert [b["requests"] for b in buckets] == [2, 0, 0]
    assert {k: buckets[0][k] for k in ("window", "requests", "rpm", "cache_hits", "cache_hit_rate", "errors",
                                        "error_rate", "cost_usd", "running_proxies", "in_flight")} == {
        "window": "1m", "requests": 2, "rpm": 2.0, "cache_hits": 1, "cache_hit_rate": 0.5, "errors": 1,
        "error_rate": 0.5, "cost_usd": 0.0, "running_proxies": 0, "in_flight": 0,
    }  # fmt: skip
    assert buckets[0]["start"] == start.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert [b["requests"] for b in api.get("/api/v1/metrics/", {**query, "proxy": mine.id}).json()] == [2, 0, 0]
    assert api.get("/api/v1/metrics/", {**query, "proxy": theirs.id}).status_code == 404
    writer.stop()
    hourly = api.get("/api/v1/metrics/", {"window": "1h", "since": start.isoformat()}).json()
    assert sum(b["requests"] for b in hourly) == 2 and {b["window"] for b in hourly} == {"1h"}
    assert api.get("/api/v1/metrics/", {"window": "5m"}).status_code == 400


def test_prometheus_is_open_to_loopback_only_when_no_token_is_set(client, settings, user):
    settings.RUBBERDUCK_METRICS_TOKEN = ""
    write_logs(
        LogRecordFactory(proxy=ProxyFactory(owner=user), at=timezone.now(), failure="rate_limit", status_code=429)
    )
    from metrics.prometheus import observe_rows

    observe_rows(
        batch_of(
            [
                LogRecordFactory(
                    proxy=ProxyFactory(owner=user, name="q"), at=timezone.now().timestamp(), cache="hit"
                ).frozen()
            ],
            [1],
        )
    )

    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in ("rubberduck_requests_total", "rubberduck_cache_hits_total", "rubberduck_failures_total",
                 "rubberduck_request_latency_seconds_bucket", "rubberduck_in_flight", "rubberduck_running_proxies"):  # fmt: skip
        assert name in text
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_prometheus_counts_every_row_of_a_mixed_batch(user, other_user):
    from metrics.prometheus import CACHE_HITS, FAILURES, LATENCY, REQUESTS, observe_rows

    a, b = ProxyFactory(owner=user, name="a"), ProxyFactory(owner=other_user, name="b")
    now = timezone.now().timestamp()
    records = [
        LogRecordFactory(proxy=a, at=now, cache="hit", latency_ms=2.0),
        LogRecordFactory(proxy=a, at=now, cache="hit", latency_ms=3.0),
        LogRecordFactory(proxy=a, at=now, status_code=500),
        LogRecordFactory(proxy=a, at=now, failure="rate_limit", status_code=429),
        LogRecordFactory(proxy=b, at=now, cache="hit"),
        LogRecordFactory(proxy=b, at=now, failure="timeout", status_code=200),
    ]
    batch = batch_of([r.frozen() for r in records], range(1, 7))

    def value(metric, *labels):
        sample = "_sum" if metric is LATENCY else "_total"
        for family in metric.collect():
            for s in family.samples:
                if s.name.endswith(sample) and tuple(s.labels.values()) == labels:
                    return s.value
        return 0

    la, lb = (str(a.id), str(user.id)), (str(b.id), str(other_user.id))
    observe_rows(batch)
    assert value(REQUESTS, *la, "hit") == 2 and value(REQUESTS, *la, "miss") == 2
    assert value(REQUESTS, *lb, "hit") == 1 and value(REQUESTS, *lb, "miss") == 1
    assert value(CACHE_HITS, *la) == 2 and value(CACHE_HITS, *lb) == 1
    assert value(FAILURES, *la, "error") == 1 and value(FAILURES, *la, "rate_limit") == 1
    assert value(FAILURES, *lb, "timeout") == 1 and value(FAILURES, *lb, "error") == 0
    assert value(LATENCY, *la) == pytest.approx((2.0 + 3.0 + 12.5 + 12.5) / 1000)


def test_prometheus_wants_the_bearer_token_when_one_is_set(client, settings):
    settings.RUBBERDUCK_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401  # even from loopback
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret", REMOTE_ADDR="10.1.2.3")
    assert ok.status_code == 200 and b"rubberduck_requests_total" in ok.content


def cost_of(usage: Usage):
    """The cost the writer's batch puts on one OpenAI request with this usage."""
    record = LogRecordFactory(at=0.0, usage=usage, pricing_provider="openai")
    return batch_of([record.frozen()], [1]).cost_usd[0]


def test_a_model_genai_prices_does_not_know_costs_null_never_a_guess():
    assert cost_of(Usage(model="acme-unknown-9", input_tokens=10, output_tokens=5)) is None
    assert cost_of(Usage(model="gpt-4o", input_tokens=10, output_tokens=5)) > 0


def test_cached_prompt_tokens_cost_what_the_provider_charges_for_them():
    def cost(cached):
        return cost_of(Usage(model="gpt-4o", input_tokens=10_000, output_tokens=100, cache_read_tokens=cached))

    assert cost(8_000) < cost(None)
    # gpt-4o: $2.50 per M input, $1.25 per M cached input, $10 per M output
    assert float(cost(None)) == pytest.approx(0.025 + 0.001, rel=1e-6)
    assert float(cost(8_000)) == pytest.approx(2_000 * 2.5e-6 + 8_000 * 1.25e-6 + 100 * 10e-6, rel=1e-6)
