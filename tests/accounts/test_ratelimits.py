"""Abuse limits: per IP and per account, 429 with a clear JSON message; no account enumeration on login."""

import time

import pytest
from rest_framework.test import APIClient

from accounts.ratelimits import DEFAULT_RATES, MESSAGE
from tests.accounts.conftest import frozen


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """django-ratelimit counts in fixed windows; a frozen clock keeps a test from straddling a window edge."""
    return frozen(monkeypatch, "django_ratelimit.core", time.time())


def test_it_uses_the_documented_default_rates():
    assert DEFAULT_RATES["login"] == {"ip": "10/m", "account": "5/m"}


def test_it_limits_logins_per_account(spa, user):
    answers = [spa.login(user.email, "wrong-password").status_code for _ in range(6)]

    assert answers == [400] * 5 + [429]
    limited = spa.login(user.email, "correct-horse-battery")  # even the right password waits
    assert limited.status_code == 429
    assert limited.json() == {"status": 429, "errors": [{"message": MESSAGE, "code": "too_many_requests"}]}
    assert int(limited["Retry-After"]) > 0


def test_it_limits_logins_per_ip_across_accounts(spa, db):
    answers = [spa.login(f"user{i}@example.com", "whatever-pass").status_code for i in range(11)]

    assert answers == [400] * 10 + [429]


def test_it_counts_other_ips_separately(spa, user):
    for _ in range(10):
        spa.call("POST", "/auth/login", {"email": f"x{_}@example.com", "password": "p"}, REMOTE_ADDR="10.0.0.1")

    assert spa.login(user.email, "correct-horse-battery").status_code == 200


def test_it_allows_attempts_again_in_the_next_window(spa, user, clock):
    for _ in range(6):
        spa.login(user.email, "wrong-password")
    clock.advance(61)
    # allauth's own login_failed limit (5 failures / 5 min per account) still holds the account...
    held = spa.login(user.email, "correct-horse-battery")
    assert (held.status_code, held.json()["errors"][0]["code"]) == (400, "too_many_login_attempts")
    # ...ours does not any more: another account from the same IP gets through to allauth.
    assert spa.login("someone@example.com", "whatever-pass").status_code == 400


def test_it_gives_the_same_answer_for_an_unknown_email_and_a_wrong_password(spa, user):
    unknown = spa.login("nobody@example.com", "whatever-pass")
    wrong = spa.login(user.email, "whatever-pass")

    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()


def test_it_limits_sign_ups_per_account(spa, db):
    answers = [spa.signup("new@example.com").status_code for _ in range(4)]

    assert answers[-1] == 429


def test_it_limits_password_reset_requests(spa, user):
    answers = [spa.call("POST", "/auth/password/request", {"email": user.email}).status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]


def test_it_limits_token_creation_per_user_in_the_api_error_shape(api):
    answers = [api.post("/api/v1/tokens/", {"name": f"t{i}"}, format="json") for i in range(11)]

    assert [a.status_code for a in answers] == [201] * 10 + [429]
    assert answers[-1].json() == {"detail": MESSAGE, "code": "rate_limited"}
    assert int(answers[-1]["Retry-After"]) > 0


def test_it_limits_wrong_api_tokens_per_ip_and_never_a_right_one(api, db):
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token rd_not-a-token")

    answers = [wrong.get("/api/v1/me/") for _ in range(31)]

    assert [a.status_code for a in answers] == [401] * 30 + [429]
    assert answers[-1].json() == {"detail": MESSAGE, "code": "rate_limited"}
    assert int(answers[-1]["Retry-After"]) > 0
    assert api.get("/api/v1/me/").status_code == 200  # a right token from the same address is not held up
    assert wrong.get("/api/v1/me/", REMOTE_ADDR="10.0.0.9").status_code == 401  # another address counts apart


def test_it_counts_requests_without_a_peer_address_instead_of_failing_them(api):
    # found by tests/test_api_fuzz.py: schemathesis' WSGI client sends no REMOTE_ADDR, and django-ratelimit
    # fails a request without one (as an ASGI server on a UNIX socket sends it) with a 500
    answers = [api.post("/api/v1/tokens/", {}, format="json", REMOTE_ADDR="") for _ in range(11)]

    assert [a.status_code for a in answers] == [201] * 10 + [429]


def test_it_can_be_loosened_per_action(spa, user, settings):
    settings.RUBBERDUCK_RATE_LIMITS = {"login": {"account": "7/m"}}

    answers = [spa.login(user.email, "wrong-password") for _ in range(8)]

    codes = [(a.status_code, a.json()["errors"][0]["code"]) for a in answers]
    # allauth's own failed-login lock (5 per account) answers the 6th and 7th; ours the 8th.
    assert codes == [(400, "email_password_mismatch")] * 5 + [(400, "too_many_login_attempts")] * 2 + [
        (429, "too_many_requests")
    ]


def test_a_limited_request_is_told_to_wait_at_least_a_second_in_every_second_of_the_window(clock, rf, settings):
    # django-ratelimit reports 0 s left in a window's last second; DRF then drops Retry-After altogether.
    from django.core.cache import cache

    from accounts.ratelimits import limit_hit

    settings.RUBBERDUCK_RATE_LIMITS = {"login": {"ip": "1000/m", "account": "1/m"}}  # only the account limit bites
    start = int(clock.now)
    for second in range(60):
        cache.clear()
        clock.now = start + second + 0.5
        request = rf.post("/", REMOTE_ADDR="10.9.9.9")
        assert limit_hit(request, "login", "a@example.com") is None
        assert limit_hit(request, "login", "a@example.com") >= 1, second
