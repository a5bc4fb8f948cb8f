"""A fresh server's first account becomes its admin; without an email service the console and the sign-up
screens (told through allauth's response meta) say where the verification link went."""

import os
import threading
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.services import user_create_verified
from tests.accounts.conftest import last_mail_to, link_key
from tests.accounts.test_social import provider, social_login  # noqa: F401 (provider: a fixture)
from tests.proxies.test_scale_out import manage, postgres_url  # noqa: F401 (postgres_url: a fixture)

CONSOLE = "django.core.mail.backends.console.EmailBackend"


def admins() -> list[str]:
    return list(get_user_model().objects.filter(is_staff=True, is_superuser=True).values_list("email", flat=True))


def test_it_makes_the_first_sign_up_the_admin_and_nobody_after(spa, other_spa):
    spa.signup("first@example.com")
    other_spa.signup("second@example.com")

    assert admins() == ["first@example.com"]


def test_it_makes_no_sign_up_admin_once_an_account_exists(spa, user):
    spa.signup("late@example.com")

    assert admins() == []


def test_it_makes_the_first_social_sign_up_the_admin(spa, provider):  # noqa: F811
    social_login(spa, provider[0])

    assert admins() == ["octo@example.com"]


def test_the_cli_makes_the_first_account_it_creates_the_admin(db):
    for email in ("ops@example.com", "dev@example.com"):
        call_command("apitoken", email, "--create", stdout=StringIO())

    assert admins() == ["ops@example.com"]


def test_accounts_made_for_tests_stay_plain_users(db):
    user_create_verified(email="plain@example.com")

    assert admins() == []


def test_concurrent_first_accounts_make_exactly_one_admin(transactional_db):
    start = threading.Barrier(6)

    def create(n):
        start.wait()
        user_create_verified(email=f"racer{n}@example.com", first_is_admin=True)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert get_user_model().objects.count() == 6 and len(admins()) == 1


RACE = """
import threading
from django.contrib.auth import get_user_model
from accounts.services import user_create_verified
start = threading.Barrier(8)
def create(n):
    start.wait()
    user_create_verified(email=f"racer{n}@example.com", first_is_admin=True)
threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(get_user_model().objects.filter(is_superuser=True).count(), get_user_model().objects.count())
"""


@pytest.mark.services
def test_concurrent_first_accounts_make_exactly_one_admin_on_postgresql(postgres_url, tmp_path):  # noqa: F811
    env = {**os.environ, "DATABASE_URL": postgres_url, "RUBBERDUCK_DATA_DIR": str(tmp_path)}
    manage(env, "migrate", "-v0")
    assert manage(env, "shell", "--no-imports", "-c", RACE).split() == ["1", "8"]


def test_without_an_email_service_the_console_shows_the_verification_link(spa, settings, capsys, caplog):
    settings.EMAIL_BACKEND = CONSOLE

    response = spa.signup("new@example.com")

    assert response.json()["meta"]["email_to_console"] is True
    printed = capsys.readouterr().out
    assert "To: new@example.com" in printed  # the email itself
    notice = "\n".join(r.getMessage() for r in caplog.records if r.name == "rubberduck.accounts")
    assert "No email service is configured" in notice and "new@example.com" in notice
    link = notice.split("Its link: ")[1].strip()
    assert link.startswith("http://testserver/account/verify-email/") and link in printed.replace("=\n", "")


def test_with_an_email_service_nothing_is_said_about_the_console(spa, caplog):
    response = spa.signup("new@example.com")  # the tests' locmem backend stands for a real service

    assert response.json()["meta"]["email_to_console"] is False
    assert spa.call("GET", "/config").json()["meta"]["email_to_console"] is False
    assert link_key(last_mail_to("new@example.com"), "/account/verify-email/")
    assert not [r for r in caplog.records if r.name == "rubberduck.accounts"]
