"""Sessions and CSRF the Django way, cookie flags and security headers."""

import json

import pytest
from django.test import Client

CREDENTIALS = {"email": "ada@example.com", "password": "correct-horse-battery"}


@pytest.fixture
def strict(db):
    """A browser whose POSTs are CSRF-checked, as real ones are."""
    return Client(enforce_csrf_checks=True)


def post_json(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def logged_in(strict) -> str:
    strict.get("/_allauth/browser/v1/config")
    token = strict.cookies["csrftoken"].value
    assert post_json(strict, "/_allauth/browser/v1/auth/login", CREDENTIALS, HTTP_X_CSRFTOKEN=token).status_code == 200
    return strict.cookies["csrftoken"].value  # rotated at login


def test_it_refuses_a_session_login_without_the_csrf_token(strict, user):
    assert post_json(strict, "/_allauth/browser/v1/auth/login", CREDENTIALS).status_code == 403


def test_it_refuses_a_session_api_write_without_the_csrf_token(strict, user):
    token = logged_in(strict)

    refused = post_json(strict, "/api/v1/tokens/", {"name": "x"})
    allowed = post_json(strict, "/api/v1/tokens/", {"name": "x"}, HTTP_X_CSRFTOKEN=token)

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert allowed.status_code == 201


def test_it_needs_no_csrf_token_with_an_api_token(api):
    assert api.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 201


def test_it_sets_an_httponly_lax_session_cookie(strict, user):
    logged_in(strict)

    session = strict.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert strict.cookies["csrftoken"]["samesite"] == "Lax"


def test_it_marks_cookies_secure_when_configured(strict, user, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True

    logged_in(strict)

    assert strict.cookies["sessionid"]["secure"] is True
    assert strict.cookies["csrftoken"]["secure"] is True


def test_it_defaults_to_non_secure_cookies_for_plain_http_127(settings):
    # `make run` serves http://127.0.0.1: Secure cookies would never come back (see settings.py).
    assert settings.SESSION_COOKIE_SECURE is False and settings.CSRF_COOKIE_SECURE is False


def test_it_sends_security_headers(client, db):
    response = client.get("/_allauth/browser/v1/config")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_it_logs_out_and_the_session_stops_working(strict, user):
    token = logged_in(strict)
    assert strict.get("/api/v1/me/").status_code == 200

    strict.delete("/_allauth/browser/v1/auth/session", HTTP_X_CSRFTOKEN=token)

    assert strict.get("/api/v1/me/").status_code in (401, 403)
