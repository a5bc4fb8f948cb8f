from accounts.models import ApiToken, hash_key
from tests.conftest import token_client


def test_it_creates_a_token_and_shows_the_key_once(api, user):
    created = api.post("/api/v1/tokens/", {"name": "ci"}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "prefix", "created_at", "last_used_at", "key"}
    assert body["name"] == "ci" and body["key"].startswith(body["prefix"])
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.key_hash == hash_key(body["key"]) and body["key"] not in (stored.key_hash, stored.prefix)
    listed = api.get("/api/v1/tokens/").json()
    assert {
        "id": body["id"],
        "name": "ci",
        "prefix": body["prefix"],
        "created_at": body["created_at"],
        "last_used_at": None,
    } in listed


def test_it_lists_tokens_without_secret_or_hash(api):
    api.post("/api/v1/tokens/", {"name": "ci"}, format="json")

    listed = api.get("/api/v1/tokens/").json()

    assert len(listed) == 2  # the fixture's own token and this one
    for token in listed:
        assert set(token) == {"id", "name", "prefix", "created_at", "last_used_at"}


def test_it_records_when_a_token_was_last_used(api, user):
    listed = api.get("/api/v1/tokens/").json()

    assert listed[0]["last_used_at"] is not None


def test_it_authenticates_with_a_new_token_and_refuses_it_once_revoked(api, user):
    key = api.post("/api/v1/tokens/", {"name": "ci"}, format="json").json()
    client = token_client(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key['key']}")
    assert client.get("/api/v1/me/").status_code == 200

    assert api.delete(f"/api/v1/tokens/{key['id']}/").status_code == 204

    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_it_404s_on_another_users_token(api, other_user):
    theirs, _ = ApiToken.issue(other_user, "theirs")

    assert api.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists()


def test_it_refuses_tokens_of_a_user_whose_email_is_unverified(user):
    from allauth.account.models import EmailAddress

    client = token_client(user)
    EmailAddress.objects.filter(user=user).update(verified=False)

    assert client.get("/api/v1/me/").status_code == 401


def test_it_rejects_a_too_long_name(api):
    response = api.post("/api/v1/tokens/", {"name": "x" * 101}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


def test_it_refuses_the_token_of_a_deactivated_user(user):
    client = token_client(user)
    assert client.get("/api/v1/me/").status_code == 200
    user.is_active = False
    user.save()

    refused = client.get("/api/v1/me/")

    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid token."


def test_it_accepts_the_token_of_a_user_without_any_address(user):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=user).delete()  # as `createsuperuser` makes them

    assert token_client(user).get("/api/v1/me/").json()["email"] == user.email


def test_it_writes_last_used_at_at_most_once_a_minute(user):
    from datetime import timedelta

    from django.utils import timezone

    client = token_client(user)
    token = ApiToken.objects.get(user=user)
    client.get("/api/v1/me/")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    client.get("/api/v1/me/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first  # within the minute: not written again

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/api/v1/me/")

    assert ApiToken.objects.get(pk=token.pk).last_used_at > first
