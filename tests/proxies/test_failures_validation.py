"""PUT /api/v1/proxies/{id}/failures: every malformed part is a 400 naming its field; nothing is stored."""

import pytest

GOOD = {
    "timeout": {"mode": "delay", "seconds": 1.5, "rate": 0.5},
    "errors": [{"status": 429, "rate": 0.25}, {"status": 500, "rate": 0.1}],
    "ip_allow": ["127.0.0.1", "10.0.0.0/8", "192.168.*.*", "10.*.3.*", "::1", "2001:db8::/32", "fe80:*:*:*:*:*:*:*"],
    "ip_block": ["203.0.113.7"],
    "rpm_limit": 60,
    "stream": {"cut_after_events": 5, "chunk_delay_ms": 200, "rate": 1.0},
    "seed": 42,
}


@pytest.fixture
def proxy(api):
    response = api.post(
        "/api/v1/proxies/", {"name": "p", "provider": "openai", "model_name": "m", "port": None}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def put(api, proxy, config):
    return api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")


def test_it_stores_and_returns_a_valid_config(api, proxy):
    response = put(api, proxy, GOOD)
    assert response.status_code == 200, response.content
    assert response.json() == GOOD
    assert api.get(f"/api/v1/proxies/{proxy['id']}/failures").json() == GOOD


def test_it_accepts_the_editors_nulls_for_an_unset_stream_part(api, proxy):
    response = put(api, proxy, {"stream": {"cut_after_events": 3, "chunk_delay_ms": None, "rate": 1}})
    assert response.status_code == 200, response.content
    assert response.json() == {"stream": {"cut_after_events": 3, "rate": 1.0}}


# (config, path of the field error): one test walks them all, as each case needs only a PUT and a GET.
BAD = [
    ({"errors": [{"status": 399, "rate": 0.1}]}, ["errors", 0, "status"]),
    ({"errors": [{"status": 600, "rate": 0.1}]}, ["errors", 0, "status"]),
    ({"errors": [{"status": 200, "rate": 0.1}]}, ["errors", 0, "status"]),
    ({"errors": [{"status": 429.5, "rate": 0.1}]}, ["errors", 0, "status"]),
    ({"errors": [{"status": "429", "rate": 0.1}]}, ["errors", 0, "status"]),
    ({"errors": [{"status": True, "rate": 0.1}]}, ["errors", 0, "status"]),
    ({"errors": [{"status": 500, "rate": 0.1}, {"status": 503}]}, ["errors", 1, "rate"]),
    ({"errors": [{"status": 500, "rate": 1.5}]}, ["errors", 0, "rate"]),
    ({"errors": [{"status": 500, "rate": -0.1}]}, ["errors", 0, "rate"]),
    ({"errors": [{"status": 500, "rate": "0.5"}]}, ["errors", 0, "rate"]),
    ({"errors": [{"status": 500, "rate": "nan"}]}, ["errors", 0, "rate"]),
    ({"errors": [{"status": 500, "rate": 0.6}, {"status": 429, "rate": 0.5}]}, ["errors"]),
    ({"errors": [{"status": 500, "rate": 0.1, "sometimes": True}]}, ["errors", 0, "sometimes"]),
    ({"timeout": {"mode": "delay", "seconds": -1}}, ["timeout", "seconds"]),
    ({"timeout": {"mode": "sometimes", "seconds": 1}}, ["timeout", "mode"]),
    ({"timeout": {"mode": "hang", "rate": 2}}, ["timeout", "rate"]),
    ({"rpm_limit": 0}, ["rpm_limit"]),
    ({"rpm_limit": -5}, ["rpm_limit"]),
    ({"rpm_limit": 1.5}, ["rpm_limit"]),
    ({"ip_allow": ["300.1.1.1"]}, ["ip_allow", 0]),
    ({"ip_allow": ["127.0.0.1", "10.0.0.0/33"]}, ["ip_allow", 1]),
    ({"ip_allow": ["localhost"]}, ["ip_allow", 0]),
    ({"ip_block": ["192.168.*"]}, ["ip_block", 0]),
    ({"ip_block": ["192.168.1*.*"]}, ["ip_block", 0]),
    ({"ip_block": ["10.*.300.*"]}, ["ip_block", 0]),
    ({"ip_block": ["10.*.*.*/8"]}, ["ip_block", 0]),
    ({"ip_block": ["2001:db8:*"]}, ["ip_block", 0]),
    ({"ip_block": ["2001:db8::*::1"]}, ["ip_block", 0]),
    ({"ip_block": [""]}, ["ip_block", 0]),
    ({"stream": {"cut_after_events": -1}}, ["stream", "cut_after_events"]),
    ({"stream": {"chunk_delay_ms": -10}}, ["stream", "chunk_delay_ms"]),
    ({"stream": {"cut_after_events": 2, "rate": 1.01}}, ["stream", "rate"]),
    ({"seed": "abc"}, ["seed"]),
    ({"timout": {"mode": "hang"}}, ["timout"]),
]


def test_it_refuses_a_bad_config_with_a_field_error_and_keeps_the_stored_one(api, proxy):
    assert put(api, proxy, GOOD).status_code == 200
    for config, path in BAD:
        response = put(api, proxy, config)
        assert response.status_code == 400, (config, response.content)
        error = response.json()
        for step in path:
            error = error[str(step)]  # DRF keys list items by their index
        assert isinstance(error, list) and error and all(isinstance(m, str) and m for m in error), (
            config,
            response.json(),
        )
        assert api.get(f"/api/v1/proxies/{proxy['id']}/failures").json() == GOOD, config


def test_an_empty_config_turns_every_rule_off(api, proxy):
    put(api, proxy, GOOD)
    assert put(api, proxy, {}).json() == {}
    assert api.get(f"/api/v1/proxies/{proxy['id']}/failures").json() == {}


def test_another_users_proxy_failures_are_not_found(other_api, proxy):
    assert other_api.put(f"/api/v1/proxies/{proxy['id']}/failures", GOOD, format="json").status_code == 404
