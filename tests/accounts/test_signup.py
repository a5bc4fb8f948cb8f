"""Sign-up with mandatory email verification, through allauth's headless API as the SPA calls it."""

import time
from urllib.parse import quote

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail

from accounts.models import SiteSettings
from tests.accounts.conftest import flows, frozen, last_mail_to, link_key

EMAIL = "new@example.com"


def test_it_signs_up_with_verification_pending_and_no_access(spa):
    response = spa.signup(EMAIL)

    assert response.status_code == 401
    assert flows(response).pending == ["verify_email"]
    assert not flows(response).authenticated
    assert EmailAddress.objects.get(email=EMAIL).verified is False
    assert spa.call("GET", "/api/v1/me/").status_code == 401


def test_it_refuses_login_before_the_email_is_verified(spa, other_spa):
    spa.signup(EMAIL)

    response = other_spa.login(EMAIL)

    assert response.status_code == 401
    assert flows(response).pending == ["verify_email"]
    assert other_spa.session().status_code == 401
    assert other_spa.call("GET", "/api/v1/me/").status_code == 401


def test_it_sends_a_verification_link_to_the_spa_with_text_and_html_parts(spa):
    spa.signup(EMAIL)

    message = last_mail_to(EMAIL)
    key = link_key(message, "/account/verify-email/")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f"http://testserver/account/verify-email/{quote(key)}" in html
    assert message.from_email == "Rubberduck <noreply@rubberduck.local>"


def test_it_verifies_the_email_from_the_link_and_then_logs_in(spa, other_spa):
    spa.signup(EMAIL)
    key = link_key(last_mail_to(EMAIL), "/account/verify-email/")

    assert spa.call("GET", "/auth/email/verify", HTTP_X_EMAIL_VERIFICATION_KEY=key).status_code == 200
    response = spa.call("POST", "/auth/email/verify", {"key": key})

    assert response.status_code == 200
    assert flows(response).authenticated  # the pending sign-up in this spa completes
    assert EmailAddress.objects.get(email=EMAIL).verified is True
    assert spa.call("GET", "/api/v1/me/").json()["email"] == EMAIL
    login = other_spa.login(EMAIL)
    assert login.status_code == 200
    assert other_spa.call("GET", "/api/v1/me/").status_code == 200


def test_it_resends_the_verification_email_after_the_cooldown(spa, monkeypatch):
    clock = frozen(monkeypatch, "allauth.core.internal.ratelimit", time.time())
    spa.signup(EMAIL)
    assert len(mail.outbox) == 1

    too_soon = spa.call("POST", "/auth/email/verify/resend")
    clock.advance(181)  # allauth's ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN is 3 minutes
    resent = spa.call("POST", "/auth/email/verify/resend")

    assert too_soon.status_code == 429
    assert resent.status_code == 200
    assert len(mail.outbox) == 2
    second_key = link_key(mail.outbox[1], "/account/verify-email/")
    assert spa.call("POST", "/auth/email/verify", {"key": second_key}).status_code == 200


def test_it_rejects_a_verification_link_older_than_the_expiry(spa, monkeypatch, settings):
    assert settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS == 3
    spa.signup(EMAIL)
    key = link_key(last_mail_to(EMAIL), "/account/verify-email/")
    frozen(monkeypatch, "django.core.signing", time.time() + 3 * 86400 + 60)

    response = spa.call("POST", "/auth/email/verify", {"key": key})

    assert response.status_code == 400
    assert response.json()["errors"][0]["param"] == "key"
    assert EmailAddress.objects.get(email=EMAIL).verified is False


def test_it_accepts_a_link_just_inside_the_expiry(spa, monkeypatch):
    spa.signup(EMAIL)
    key = link_key(last_mail_to(EMAIL), "/account/verify-email/")
    frozen(monkeypatch, "django.core.signing", time.time() + 3 * 86400 - 60)

    assert spa.call("POST", "/auth/email/verify", {"key": key}).status_code == 200


def test_it_refuses_sign_ups_when_the_site_is_closed(spa):
    site = SiteSettings.current()
    site.signup_open = False
    site.save()

    response = spa.signup(EMAIL)

    assert response.status_code == 403
    assert not get_user_model().objects.filter(email=EMAIL).exists()


def test_it_does_not_reveal_an_existing_account_on_sign_up(spa, user):
    response = spa.signup(user.email)

    assert response.status_code == 401  # the same answer as for a new address...
    assert flows(response).pending == ["verify_email"]
    assert "already exists" in last_mail_to(user.email).body  # ...and the owner is told by email
    assert get_user_model().objects.filter(email__iexact=user.email).count() == 1
