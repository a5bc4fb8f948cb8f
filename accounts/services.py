from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import ApiToken, SiteSettings


def user_create_verified(*, email: str, password: str | None = None, first_is_admin: bool = False):
    """A user whose email counts as verified (for the CLI and tests); with `first_is_admin`, the first account
    of a fresh server becomes its admin, as a sign-up does."""
    User = get_user_model()
    with transaction.atomic():
        admin = {"is_staff": True, "is_superuser": True} if first_is_admin and no_account_yet() else {}
        user = User.objects.create_user(username=email, email=email, password=password, **admin)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def admin_if_first(user) -> None:
    """Makes `user`, not saved yet, staff and superuser when it is the first account of a fresh server. Call it
    inside the transaction that saves the user (see no_account_yet)."""
    if no_account_yet():
        user.is_staff = user.is_superuser = True


def no_account_yet() -> bool:
    """Whether no account exists. Call it inside the transaction that creates one: the site settings row stays
    locked until that commits, so concurrent sign-ups take turns and only the first finds no account."""
    SiteSettings.objects.select_for_update().get_or_create(pk=1)
    return not get_user_model().objects.exists()


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
