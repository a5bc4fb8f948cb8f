import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_key


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("apitoken", *args, stdout=out)
    return out.getvalue().strip()


def test_it_prints_a_working_token_for_an_existing_user(user):
    key = run(user.email)

    token = ApiToken.objects.get(key_hash=hash_key(key))
    assert token.user == user and token.name == "cli"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").json()["email"] == user.email


def test_it_creates_a_verified_user_with_create(db):
    key = run("cli@example.com", "--create")

    assert EmailAddress.objects.get(email="cli@example.com").verified
    assert ApiToken.objects.get(key_hash=hash_key(key)).user.email == "cli@example.com"


def test_it_refuses_an_unknown_email_without_create(db):
    with pytest.raises(CommandError, match="--create"):
        run("ghost@example.com")
    assert not ApiToken.objects.exists()
