from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from accounts.models import ApiToken, SiteSettings


def user_create_verified(*, email: str, password: str | None = None):
    """A user whose email counts as verified (for the CLI and tests)."""
    User = get_user_model()
    user = User.objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def user_update(*, user, name: str):
    user.first_name = name
    user.last_name = ""
    user.save(update_fields=["first_name", "last_name"])
    return user


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """The token and its plain key, which is never stored (only its sha256)."""
    return ApiToken.issue(user, name)


def token_revoke(*, token: ApiToken) -> None:
    # Deleting the row is the revocation: authentication looks the hash up on every request, so it fails at once.
    token.delete()


def site_settings_update(*, data: dict) -> SiteSettings:
    site = SiteSettings.current()
    for field, value in data.items():
        setattr(site, field, value)
    site.save()
    return site
