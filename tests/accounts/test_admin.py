import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.factories import CacheEntryFactory, LogEntryFactory, ProxyFactory

CHANGELISTS = [
    "/admin/proxies/proxy/",
    "/admin/proxies/cacheentry/",
    "/admin/logs/logentry/",
    "/admin/accounts/apitoken/",
    "/admin/accounts/sitesettings/",
]


@pytest.fixture
def superuser(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "root-Passw0rd!")
    call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com")
    return get_user_model().objects.get(username="root")


@pytest.mark.parametrize("url", CHANGELISTS)
def test_it_shows_admin_lists_to_a_superuser(client, superuser, url, make_proxy_row):
    client.force_login(superuser)

    assert client.get(url).status_code == 200
    assert client.get(url + "?q=ada").status_code == 200


def test_it_logs_a_superuser_in_with_the_admin_form(client, superuser):
    response = client.post("/admin/login/", {"username": "root", "password": "root-Passw0rd!"})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("is_staff", [False, True])
def test_it_keeps_everyone_else_out(client, user, is_staff):
    user.is_staff = is_staff
    user.save()
    client.force_login(user)

    response = client.get("/admin/proxies/proxy/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.fixture
def make_proxy_row(user):
    proxy = ProxyFactory(owner=user)
    LogEntryFactory(proxy=proxy)
    CacheEntryFactory(proxy=proxy)
    return proxy
