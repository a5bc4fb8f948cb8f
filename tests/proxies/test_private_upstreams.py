"""A proxy of an ordinary user never reaches into the server's own network: loopback (the server's own ports),
private and link-local ranges (cloud metadata), refused when the upstream is saved and again when a connection is
made (a name that resolves elsewhere by then, as with DNS rebinding). Staff, or a site setting, may allow it."""

import itertools

import openai
import pytest

from accounts.models import SiteSettings
from proxies.addresses import refusal, url_refusal
from tests.conftest import flushed_logs

pytestmark = pytest.mark.django_db(transaction=True)

PRIVATE = [
    "http://127.0.0.1:8000",
    "http://localhost:11434/v1",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/v1",
    "http://172.16.0.1",
    "http://192.168.1.10:8080",
    "http://100.100.100.200/latest/meta-data",  # shared address space: another cloud's metadata
    "http://0.0.0.0:9000",
    "http://224.0.0.1",
    "http://[::1]:9000",
    "http://[fd00::1]/v1",
    "http://[fe80::1]",
    "http://[::ffff:127.0.0.1]",
    "http://[::ffff:a9fe:a9fe]",  # 169.254.169.254, mapped
    "http://[64:ff9b::7f00:1]",  # 127.0.0.1 through NAT64
    "http://[2002:7f00:1::1]",  # 127.0.0.1 through 6to4
]


NAMES = itertools.count()


@pytest.fixture
def restricted(settings):
    settings.RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS = False


def create(api, upstream_url):
    name = f"p{next(NAMES)}"  # names are unique per owner
    body = {"name": name, "provider": "openai", "model_name": "gpt-4o-mini", "upstream_url": upstream_url}
    return api.post("/api/v1/proxies/", body, format="json")


@pytest.mark.parametrize("url", PRIVATE)
def test_it_refuses_a_private_upstream_with_a_field_error(restricted, api, url):
    answer = create(api, url)
    assert answer.status_code == 400, answer.content
    assert set(answer.json()) == {"upstream_url"}
    assert "not reachable for your proxies" in answer.json()["upstream_url"][0]


def test_it_refuses_a_private_upstream_on_an_edit_too(restricted, api):
    proxy = create(api, "http://8.8.8.8/v1").json()  # a public address is fine
    answer = api.patch(f"/api/v1/proxies/{proxy['id']}/", {"upstream_url": "http://localhost:8000"}, format="json")
    assert (
        answer.status_code == 400 and "localhost resolves to 127.0.0.1, a loopback" in answer.json()["upstream_url"][0]
    )
    assert api.get(f"/api/v1/proxies/{proxy['id']}/").json()["upstream_url"] == "http://8.8.8.8/v1"


def test_staff_and_the_site_setting_allow_private_upstreams(restricted, api, user):
    assert create(api, "http://localhost:11434/v1").status_code == 400
    SiteSettings.objects.update_or_create(pk=1, defaults={"allow_private_upstreams": True})
    assert create(api, "http://localhost:11434/v1").status_code == 201

    SiteSettings.objects.filter(pk=1).update(allow_private_upstreams=False)
    user.is_staff = True
    user.save()
    assert create(api, "http://127.0.0.1:11434/v1").status_code == 201


@pytest.fixture
def proxy_then_restricted(restricted, make_proxy, openai_upstream, runner):
    """A proxy saved while private upstreams were allowed, then the site setting turned off: its upstream's name
    now leads somewhere it may not go, which is what DNS rebinding does to a name checked when it was saved."""

    def make(upstream_url):
        SiteSettings.objects.update_or_create(pk=1, defaults={"allow_private_upstreams": True})
        proxy = make_proxy("openai", upstream_url=upstream_url)
        SiteSettings.objects.filter(pk=1).update(allow_private_upstreams=False)
        SiteSettings.objects.get(pk=1).save()  # a new updated_at: the runner's next tick applies it
        runner.reconcile()
        return proxy

    return make


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])  # resolved by the pool, and an address it never resolves
def test_it_does_not_connect_to_a_private_address_at_request_time(proxy_then_restricted, openai_upstream, runner, host):
    proxy = proxy_then_restricted(openai_upstream.url.replace("127.0.0.1", host) + "/v1")
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test", max_retries=0)

    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    assert caught.value.status_code == 502
    assert "127.0.0.1, a loopback address, which this proxy may not reach" in caught.value.message or (
        "127.0.0.1 is a loopback address, which this proxy may not reach" in caught.value.message
    )
    assert openai_upstream.requests == []
    [entry] = flushed_logs(runner, proxy["id"])
    assert entry.status_code == 502


def test_it_connects_again_once_allowed(proxy_then_restricted, openai_upstream, runner):
    proxy = proxy_then_restricted(openai_upstream.url.replace("127.0.0.1", "localhost") + "/v1")
    SiteSettings.objects.filter(pk=1).update(allow_private_upstreams=True)
    SiteSettings.objects.get(pk=1).save()
    runner.reconcile()
    client = openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len(openai_upstream.requests) == 1


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("239.1.2.3", "multicast"),
        ("10.0.0.1", "private"),
        ("fc00::5", "private"),
        ("100.64.0.1", "non-public"),
        ("192.0.2.1", "private"),  # documentation
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
    ],
)
def test_it_names_why_an_address_is_off_limits(address, kind):
    assert refusal(address) == f"{address} is a {kind} address"


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "not-an-address"])
def test_it_lets_public_addresses_through(address):
    assert refusal(address) is None


def test_it_resolves_a_name_to_check_it():
    assert url_refusal("http://localhost:8000/v1") == "localhost resolves to 127.0.0.1, a loopback address"
    assert url_refusal("http://no-such-host.invalid/v1") is None  # checked again when connecting
    assert url_refusal("") is None


def test_a_declaration_is_held_to_the_same_rule(restricted, api):
    document = {
        "version": 1,
        "proxies": [
            {"name": "meta", "provider": "openai", "model_name": "m", "upstream_url": "http://169.254.169.254/"}
        ],
    }
    answer = api.post("/api/v1/apply", document, format="json")
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["path"] == "proxies[0].upstream_url" and "link-local" in error["message"]
    assert api.get("/api/v1/proxies/").json() == []
