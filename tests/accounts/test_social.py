"""Google and GitHub login against a fake OAuth server on loopback: redirect -> authorize -> callback."""

from urllib.parse import urlsplit

import httpx
import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from django.contrib.auth import get_user_model

from accounts.conf import socialaccount_providers
from accounts.models import SiteSettings
from tests.fakes.oauth import FakeOAuth, Identity

CALLBACK = "/account/provider/callback"
APPS = {  # (client id, secret), as GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET and GOOGLE_... set them
    "github": ("gh-client", "gh-secret"),
    "google": ("g-client.apps.googleusercontent.com", "g-secret"),
}


@pytest.fixture(params=["github", "google"])
def provider(request, settings, monkeypatch):
    """One provider enabled from its client id and secret, its endpoints pointed at a fresh fake server."""
    provider_id = request.param
    client_id, secret = APPS[provider_id]
    fake = FakeOAuth(client_id, secret, Identity(uid="4242", email="octo@example.com")).start()
    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers(**{provider_id: APPS[provider_id]})
    # allauth computes these URLs at import time (GitHub from a GITHUB_URL setting, Google from module constants).
    if provider_id == "github":
        urls = {
            "authorize_url": "/login/oauth/authorize",
            "access_token_url": "/login/oauth/access_token",
            "profile_url": "/api/v3/user",
            "emails_url": "/api/v3/user/emails",
        }
        adapter = GitHubOAuth2Adapter
    else:
        urls = {
            "authorize_url": "/o/oauth2/v2/auth",
            "access_token_url": "/token",
            "identity_url": "/oauth2/v2/userinfo",
        }
        adapter = GoogleOAuth2Adapter
    for attribute, path in urls.items():
        monkeypatch.setattr(adapter, attribute, fake.url + path)
    yield provider_id, fake
    fake.stop()


def social_login(spa, provider_id: str):
    """What the SPA's form POST and the user's browser do; returns the final redirect of the callback."""
    spa.client.get("/_allauth/browser/v1/config")
    started = spa.client.post(
        "/_allauth/browser/v1/auth/provider/redirect",
        {"provider": provider_id, "callback_url": CALLBACK, "process": "login"},
    )
    assert started.status_code == 302, started.content
    consent = httpx.get(started["Location"], follow_redirects=False)  # the provider's own page
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert back.netloc == "testserver"
    return spa.client.get(f"{back.path}?{back.query}")


def test_it_lists_a_provider_in_config_only_when_its_pair_is_set(spa, settings):
    def listed():
        data = spa.call("GET", "/config").json()["data"]
        return sorted(p["id"] for p in data.get("socialaccount", {}).get("providers", []))

    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers()
    assert listed() == []
    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers(github=("x", ""), google=("", "y"))
    assert listed() == []
    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers(github=APPS["github"])
    assert listed() == ["github"]
    settings.SOCIALACCOUNT_PROVIDERS = socialaccount_providers(**APPS)
    assert listed() == ["github", "google"]


def test_it_creates_a_verified_user_on_first_social_login(spa, provider):
    provider_id, fake = provider

    finished = social_login(spa, provider_id)

    assert finished.status_code == 302
    assert finished["Location"] == CALLBACK
    session = spa.session()
    assert session.status_code == 200
    assert session.json()["data"]["user"]["email"] == "octo@example.com"
    user = get_user_model().objects.get(email="octo@example.com")
    assert SocialAccount.objects.get(user=user).provider == provider_id
    assert EmailAddress.objects.get(user=user).verified is True
    assert spa.call("GET", "/api/v1/me/").status_code == 200
    assert any(r.path.startswith(("/login/oauth/access_token", "/token")) for r in fake.requests)


def test_it_links_to_the_existing_account_with_the_same_verified_email(spa, provider, user):
    provider_id, fake = provider
    fake.identity.email = user.email

    social_login(spa, provider_id)

    assert spa.session().json()["data"]["user"]["id"] == user.pk
    assert SocialAccount.objects.get(provider=provider_id).user == user
    assert get_user_model().objects.count() == 1


def test_it_does_not_link_on_an_unverified_provider_email(spa, provider, user):
    provider_id, fake = provider
    fake.identity.email, fake.identity.verified = user.email, False

    social_login(spa, provider_id)

    assert not SocialAccount.objects.filter(user=user).exists()
    assert spa.call("GET", "/api/v1/me/").status_code != 200


def test_it_refuses_new_social_users_when_sign_up_is_closed(spa, provider):
    provider_id, _ = provider
    SiteSettings.objects.create(signup_open=False)

    social_login(spa, provider_id)

    assert not get_user_model().objects.filter(email="octo@example.com").exists()
    assert spa.session().status_code == 401
