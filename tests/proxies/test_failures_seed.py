"""Honest, reproducible rates: the seeded generator of Chaos, unit-tested, plus one end-to-end replay."""

import math

import httpx
import pytest

from proxies.failures import PASS, Chaos
from tests.conftest import flushed_logs


def fired(chaos: Chaos, n: int) -> list:
    return [chaos.decide("127.0.0.1") for _ in range(n)]


def within_binomial_bounds(count: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("seed", [1, 42, 2024])
def test_it_fires_an_error_at_its_rate_within_binomial_bounds(seed):
    verdicts = fired(Chaos({"errors": [{"status": 500, "rate": 0.3}], "seed": seed}), 1000)
    count = sum(v.status == 500 for v in verdicts)
    assert within_binomial_bounds(count, 1000, 0.3), count


def test_each_status_fires_with_its_own_rate():
    config = {"errors": [{"status": 429, "rate": 0.25}, {"status": 500, "rate": 0.1}], "seed": 7}
    verdicts = fired(Chaos(config), 4000)
    assert within_binomial_bounds(sum(v.status == 429 for v in verdicts), 4000, 0.25)
    assert within_binomial_bounds(sum(v.status == 500 for v in verdicts), 4000, 0.1)


def test_rate_zero_never_fires_and_rate_one_always_does():
    never = fired(Chaos({"errors": [{"status": 500, "rate": 0.0}], "timeout": {"mode": "delay", "rate": 0.0}}), 2000)
    assert all(v.failure is None and v.status is None and not v.delay for v in never)
    always = fired(Chaos({"errors": [{"status": 503, "rate": 1.0}]}), 2000)
    assert all(v.status == 503 and v.retry_after == 1 for v in always)
    split = fired(
        Chaos({"errors": [{"status": 500, "rate": 0.1}, {"status": 502, "rate": 0.2}, {"status": 503, "rate": 0.7}]}),
        2000,
    )
    assert all(v.status in (500, 502, 503) for v in split)  # rates adding up to 1 always fire


def test_the_same_seed_replays_the_same_sequence_and_another_seed_does_not():
    config = {
        "errors": [{"status": 429, "rate": 0.2}, {"status": 500, "rate": 0.2}],
        "timeout": {"mode": "delay", "seconds": 0.1, "rate": 0.3},
        "stream": {"cut_after_events": 2, "rate": 0.5},
    }

    def sequence(seed):
        chaos = Chaos({**config, "seed": seed})
        out = []
        for i in range(300):
            out.append(chaos.decide("127.0.0.1"))
            if i % 3 == 0:
                out.append(chaos.stream_rule())
        return out

    assert sequence(42) == sequence(42)
    assert sequence(42) != sequence(43)


def test_every_rule_draws_on_every_request_so_one_rules_outcome_never_shifts_another():
    """The error sequence is the same whether the timeout rule hangs, delays, or never fires."""
    errors = [{"status": 500, "rate": 0.3}, {"status": 429, "rate": 0.3}]

    def error_draws(timeout):
        chaos = Chaos({"errors": errors, "timeout": timeout, "seed": 5})
        reference = Chaos({"errors": errors, "timeout": {"mode": "delay", "rate": 0.0}, "seed": 5})
        return [(chaos.decide("::1"), reference.decide("::1")) for _ in range(500)]

    for timeout in ({"mode": "hang", "rate": 0.5}, {"mode": "delay", "seconds": 1, "rate": 0.5}):
        pairs = error_draws(timeout)
        assert any(v.hang or v.delay for v, _ in pairs)
        for verdict, reference in pairs:
            if not verdict.hang:
                assert verdict.status == reference.status


def test_a_delay_and_an_error_can_fire_together_and_a_hang_wins_over_an_error():
    both = Chaos({"timeout": {"mode": "delay", "seconds": 2, "rate": 1}, "errors": [{"status": 500, "rate": 1}]})
    assert both.decide("1.2.3.4") == both.decide("1.2.3.4")
    verdict = both.decide("1.2.3.4")
    assert (verdict.failure, verdict.status, verdict.delay) == ("error", 500, 2.0)
    hang = Chaos({"timeout": {"mode": "hang", "rate": 1}, "errors": [{"status": 500, "rate": 1}]})
    assert hang.decide("1.2.3.4").hang and hang.decide("1.2.3.4").status is None


def test_with_no_rule_decide_returns_the_shared_pass_at_once():
    for config in ({}, None, {"seed": 3}, {"stream": {"cut_after_events": 1}}, {"rpm_limit": None, "errors": []}):
        chaos = Chaos(config)
        assert chaos.active is False
        assert chaos.decide("127.0.0.1") is PASS


def test_re_putting_a_seeded_config_replays_the_sequence_through_a_proxy(api, make_proxy, openai_upstream, runner):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    config = {"errors": [{"status": 500, "rate": 0.5}], "seed": 1234}

    def statuses(n):
        return [
            httpx.post(f"{proxy['base_url']}/chat/completions", json={"model": "m", "messages": [], "n": i}).status_code
            for i in range(n)
        ]

    def apply(config):
        version = api.get(f"/api/v1/proxies/{proxy['id']}/").json()["updated_at"]
        assert api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json").status_code == 200
        assert api.get(f"/api/v1/proxies/{proxy['id']}/").json()["updated_at"] != version
        runner.reconcile()  # apply now rather than on the next tick

    apply(config)
    first = statuses(20)
    apply(config)
    again = statuses(20)
    expected = [500 if v.status == 500 else 200 for v in fired(Chaos(config), 20)]
    assert first == again == expected
    assert 0 < first.count(500) < 20
    logged = [e.failure for e in flushed_logs(runner, proxy["id"])]
    assert logged == ["error" if s == 500 else None for s in first + again]
