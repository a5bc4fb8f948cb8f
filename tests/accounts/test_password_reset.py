"""Password reset by email, end to end through the headless API."""

from tests.accounts.conftest import last_mail_to, link_key

OLD = "correct-horse-battery"
NEW = "a-brand-new-Passw0rd"


def test_it_resets_the_password_from_the_emailed_link(spa, other_spa, user):
    assert spa.call("POST", "/auth/password/request", {"email": user.email}).status_code == 200
    message = last_mail_to(user.email)
    key = link_key(message, "/account/password/reset/key/")
    assert message.alternatives[0][1] == "text/html"

    assert spa.call("GET", "/auth/password/reset", HTTP_X_PASSWORD_RESET_KEY=key).status_code == 200
    reset = spa.call("POST", "/auth/password/reset", {"key": key, "password": NEW})

    assert reset.status_code == 401, reset.content  # done; not logged in (ACCOUNT_LOGIN_ON_PASSWORD_RESET is off)
    assert other_spa.login(user.email, OLD).status_code == 400
    assert other_spa.login(user.email, NEW).status_code == 200
    assert other_spa.call("GET", "/api/v1/me/").json()["email"] == user.email


def test_it_refuses_a_reset_key_twice(spa, user):
    spa.call("POST", "/auth/password/request", {"email": user.email})
    key = link_key(last_mail_to(user.email), "/account/password/reset/key/")
    spa.call("POST", "/auth/password/reset", {"key": key, "password": NEW})

    again = spa.call("POST", "/auth/password/reset", {"key": key, "password": "yet-another-Passw0rd"})

    assert again.status_code == 400


def test_it_answers_alike_for_an_unknown_email(spa, db):
    response = spa.call("POST", "/auth/password/request", {"email": "nobody@example.com"})

    assert response.status_code == 200
    assert "not have any record" in last_mail_to("nobody@example.com").body  # the mailbox owner learns, nobody else
