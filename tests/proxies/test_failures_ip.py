"""IP allow/block lists: IPMatcher unit tests, then end to end through proxies on 127.0.0.1 and on ::1."""

import httpx
import pytest

from proxies.failures import Chaos, IPMatcher, parse_ip_pattern
from tests.conftest import flushed_logs, wait_until
from tests.proxies.sdk_adapters import PROVIDERS, sdk_fixture


@pytest.mark.parametrize(
    "pattern, inside, outside",
    [
        ("127.0.0.1", ["127.0.0.1", "::ffff:127.0.0.1"], ["127.0.0.2", "::1"]),
        ("10.0.0.0/8", ["10.0.0.1", "10.255.255.255"], ["11.0.0.0", "9.255.255.255"]),
        ("192.168.1.7/24", ["192.168.1.0", "192.168.1.255"], ["192.168.2.1"]),  # host bits are allowed
        ("192.168.*.*", ["192.168.0.1", "192.168.255.255"], ["192.169.0.1", "10.192.168.1"]),
        ("10.*.*.*", ["10.1.2.3"], ["11.1.2.3"]),
        ("*.*.*.*", ["1.2.3.4", "255.255.255.255"], ["::1"]),
        ("10.*.3.*", ["10.0.3.0", "10.200.3.99"], ["10.0.4.3", "11.0.3.1", "10.3.0.3"]),
        ("*.0.0.1", ["127.0.0.1", "10.0.0.1"], ["127.0.1.1"]),
        ("::1", ["::1", "0:0:0:0:0:0:0:1"], ["127.0.0.1", "::2"]),
        ("2001:db8::/32", ["2001:db8::1", "2001:db8:ffff::"], ["2001:db9::1"]),
        ("fe80:*:*:*:*:*:*:*", ["fe80::1", "fe80::1%eth0"], ["fe81::1"]),
        ("2001:db8:*::1", ["2001:db8:abcd::1", "2001:DB8:0::1"], ["2001:db8:abcd::2", "2001:db9:1::1"]),
    ],
)
def test_a_pattern_matches_exactly_its_addresses(pattern, inside, outside):
    matcher = IPMatcher([pattern])
    for ip in inside:
        assert matcher.matches(ip), (pattern, ip)
    for ip in outside:
        assert not matcher.matches(ip), (pattern, ip)


def test_trailing_wildcards_are_networks_and_others_are_octet_patterns():
    assert parse_ip_pattern("192.168.*.*") == ("net", __import__("ipaddress").ip_network("192.168.0.0/16"))
    assert parse_ip_pattern("10.*.3.*") == ("glob", (4, ("10", "*", "3", "*")))


@pytest.mark.parametrize(
    "pattern",
    ["", "  ", "localhost", "300.1.1.1", "1.2.3", "10.0.0.0/33", "192.168.*", "192.168.1*.*", "10.*.256.*",
     "10.*.*.*/8", "2001:db8:*", "2001::*::1", "fe80:*:*:*:*:*:*:*:*", "2001:db8:g*::1", "1.2.3.4.5"],
)  # fmt: skip
def test_a_malformed_pattern_is_refused(pattern):
    with pytest.raises(ValueError):
        parse_ip_pattern(pattern)


def test_an_address_that_is_not_an_ip_never_matches():
    assert not IPMatcher(["*.*.*.*", "::/0"]).matches("not-an-ip")


def test_block_beats_allow_and_an_empty_allow_list_allows_all():
    both = Chaos({"ip_allow": ["10.0.0.0/8"], "ip_block": ["10.0.0.7"]})
    assert both.decide("10.0.0.7").failure == "ip_blocked"
    assert both.decide("10.0.0.8").failure is None
    assert both.decide("192.168.0.1").failure == "ip_blocked"  # not on the allow list
    only_block = Chaos({"ip_block": ["10.*.3.*"]})
    assert only_block.decide("8.8.8.8").failure is None
    assert only_block.decide("10.9.3.1").status == 403
    assert Chaos({"ip_allow": []}).decide("8.8.8.8").failure is None


@pytest.fixture(params=PROVIDERS)
def sdk(request, monkeypatch, tmp_path, api, runner, make_proxy):
    yield from sdk_fixture(request, monkeypatch, tmp_path, api, runner, make_proxy)


def test_a_blocked_client_gets_the_providers_own_403_and_the_upstream_sees_nothing(sdk):
    sdk.set_failures({"ip_block": ["127.0.0.0/8"]})
    with pytest.raises(sdk.error_class(403)) as caught:
        sdk.call(sdk.proxy, "let me in")
    status, code = sdk.status_and_code(caught.value)
    assert status == 403
    if sdk.errors[403][1] is not None:
        assert code == sdk.errors[403][1]
    assert sdk.headers(caught.value).get("x-rubberduck-failure") == "ip_blocked"
    assert sdk.upstream.requests == []
    sdk.set_failures({"ip_allow": ["127.0.0.1"], "ip_block": ["10.*.3.*"]})
    assert sdk.call(sdk.proxy, "let me in")
    entries = wait_until(lambda: len(e := flushed_logs(sdk.runner, sdk.proxy["id"])) >= 2 and e)
    assert [(e.status_code, e.failure, e.ip) for e in entries] == [
        (403, "ip_blocked", "127.0.0.1"),
        (200, None, "127.0.0.1"),
    ]


def test_an_allow_list_without_the_client_refuses_it(api, runner, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    url = proxy["base_url"] + "/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": []}
    for config, expected in [
        ({"ip_allow": ["10.0.0.0/8", "192.168.*.*"]}, 403),
        ({"ip_allow": ["127.*.*.*"]}, 200),
        ({"ip_allow": ["127.0.0.1"], "ip_block": ["127.0.0.1"]}, 403),  # block beats allow
        ({"ip_allow": ["::1"]}, 403),
        ({"ip_block": ["*.0.0.1"]}, 403),
    ]:
        api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")
        runner.reconcile()
        assert httpx.post(url, json=body).status_code == expected, config


def test_a_forwarded_for_header_cannot_change_the_client_ip(api, runner, make_proxy, openai_upstream):
    # IP rules and logs see the TCP peer: a local client must not talk its way past a block list.
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    api.put(f"/api/v1/proxies/{proxy['id']}/failures", {"ip_block": ["127.0.0.1"]}, format="json")
    runner.reconcile()
    spoofed = {"x-forwarded-for": "10.9.8.7", "forwarded": "for=10.9.8.7", "x-real-ip": "10.9.8.7"}
    body = {"model": "gpt-4o-mini", "messages": []}
    assert httpx.post(proxy["base_url"] + "/chat/completions", json=body, headers=spoofed).status_code == 403
    assert [e.ip for e in flushed_logs(runner, proxy["id"])] == ["127.0.0.1"]


@pytest.fixture
def ipv6_host(settings):
    settings.RUBBERDUCK_PROXY_HOST = "::1"


def test_an_ipv6_proxy_allows_and_blocks_v6_clients(ipv6_host, api, runner, make_proxy, openai_upstream):
    proxy = make_proxy("openai", upstream_url=openai_upstream.url + "/v1")
    assert proxy["status"] == "running", proxy
    assert proxy["base_url"].startswith("http://[::1]:")
    url = proxy["base_url"] + "/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": []}
    for config, expected in [
        ({"ip_allow": ["::1"]}, 200),
        ({"ip_allow": ["127.0.0.1"]}, 403),
        ({"ip_block": ["::1"]}, 403),
        ({"ip_block": ["::/127"]}, 403),
        ({"ip_block": ["0:0:0:0:0:0:0:*"]}, 403),
        ({"ip_block": ["fe80::/10"]}, 200),
    ]:
        api.put(f"/api/v1/proxies/{proxy['id']}/failures", config, format="json")
        runner.reconcile()
        assert httpx.post(url, json=body).status_code == expected, config
    entries = wait_until(lambda: len(e := flushed_logs(runner, proxy["id"])) >= 6 and e)
    assert {e.ip for e in entries} == {"::1"}
