from accounts.models import ApiToken


def token_list(*, user):
    return ApiToken.objects.filter(user=user)


def token_get(*, user, pk) -> ApiToken | None:
    """The user's own token, or None (another user's token is indistinguishable from a missing one)."""
    return ApiToken.objects.filter(user=user, pk=pk).first()
