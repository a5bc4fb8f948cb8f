from django.core import mail

from accounts.conf import email_settings
from tests.accounts.conftest import last_mail_to


def test_it_uses_the_console_backend_without_a_sendgrid_key():
    chosen = email_settings(sendgrid_api_key="", from_email="")

    assert chosen["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert "ANYMAIL" not in chosen
    assert chosen["DEFAULT_FROM_EMAIL"] == "Rubberduck <noreply@rubberduck.local>"


def test_it_uses_anymail_sendgrid_when_the_key_is_set():
    chosen = email_settings(sendgrid_api_key="SG.test", from_email="Ops <ops@example.com>")

    assert chosen["EMAIL_BACKEND"] == "anymail.backends.sendgrid.EmailBackend"
    assert chosen["ANYMAIL"] == {"SENDGRID_API_KEY": "SG.test"}
    assert chosen["DEFAULT_FROM_EMAIL"] == chosen["SERVER_EMAIL"] == "Ops <ops@example.com>"


def test_it_sends_allauth_mail_through_sendgrid_with_both_parts(spa, settings, monkeypatch):
    """The real anymail SendGrid backend, with its HTTP call captured instead of sent."""
    settings.EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    settings.ANYMAIL = {"SENDGRID_API_KEY": "SG.test"}
    settings.DEFAULT_FROM_EMAIL = "Ops <ops@example.com>"
    posted = []

    def fake_post(self, payload, message):
        import requests

        posted.append(payload.get_request_params(self.api_url))
        response = requests.Response()
        response.status_code, response._content = 202, b""
        return response

    monkeypatch.setattr("anymail.backends.base_requests.AnymailRequestsBackend.post_to_esp", fake_post)

    spa.signup("new@example.com")

    import json

    assert posted[0]["url"] == "https://api.sendgrid.com/v3/mail/send"
    payload = json.loads(posted[0]["data"])
    assert payload["from"] == {"email": "ops@example.com", "name": "Ops"}
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]


def test_it_sends_the_html_alternative_with_the_plain_text(spa, user):
    spa.call("POST", "/auth/password/request", {"email": user.email})

    message = last_mail_to(user.email)
    assert len(mail.outbox) == 1
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert "<a href=" in html and "Rubberduck" in html
    assert "http://testserver/account/password/reset/key/" in message.body
