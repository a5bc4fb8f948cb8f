"""Port assignment: never a port another proxy uses, never one another program holds."""

import socket

import pytest

from proxies.models import Proxy
from proxies.services import port_assign, port_is_bindable
from tests.factories import ProxyFactory


@pytest.fixture
def port_window(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        low = probe.getsockname()[1]
    settings.RUBBERDUCK_PORT_RANGE = (low, low + 5)
    return low


def test_it_assigns_the_lowest_free_port(db, port_window):
    assert port_assign() == port_window


def test_it_skips_ports_used_by_other_proxies(user, port_window):
    ProxyFactory(owner=user, port=port_window)
    assert port_assign() == port_window + 1


def test_it_skips_ports_held_by_another_program(db, port_window):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port_window))
        holder.listen()
        assert not port_is_bindable(port_window)
        assert port_assign() == port_window + 1


def test_it_says_so_when_the_range_is_full(user, port_window, settings):
    from proxies.services import NoFreePort

    settings.RUBBERDUCK_PORT_RANGE = (port_window, port_window)
    ProxyFactory(owner=user, port=port_window)
    with pytest.raises(NoFreePort):
        port_assign()


def test_the_api_rejects_a_port_another_proxy_uses(api, user):
    ProxyFactory(owner=user, port=23456)
    response = api.post(
        "/api/v1/proxies/", {"name": "b", "provider": "openai", "model_name": "m", "port": 23456}, format="json"
    )
    assert response.status_code == 400
    assert "port" in response.json()


def test_the_api_assigns_and_stores_a_port_when_none_is_given(api, port_window):
    response = api.post("/api/v1/proxies/", {"name": "b", "provider": "openai", "model_name": "m"}, format="json")
    assert response.status_code == 201
    assert response.json()["port"] == port_window
    assert Proxy.objects.get().port == port_window
