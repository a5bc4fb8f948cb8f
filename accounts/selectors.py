from django.db import DatabaseError

from accounts.models import ApiToken, SiteSettings


def token_list(*, user):
    return ApiToken.objects.filter(user=user)


def token_get(*, user, pk) -> ApiToken | None:
    """The user's own token, or None (another user's token is indistinguishable from a missing one)."""
    return ApiToken.objects.filter(user=user, pk=pk).first()


def site_settings_saved() -> SiteSettings | None:
    """The site settings row when an admin saved one (else settings.py's defaults apply), read without creating
    it; None too while the table does not exist yet."""
    try:
        return SiteSettings.objects.filter(pk=1).first()
    except DatabaseError:
        return None
