from datetime import timedelta
from functools import cache

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, hash_key
from accounts.ratelimits import limit_hit, rate_limited

TOUCH_EVERY = timedelta(minutes=1)  # how stale a token's last_used_at may get before a call writes it again


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, checked against the stored hash; a revoked token fails at once."""

    keyword = "Token"

    def authenticate(self, request):
        """As DRF's, but wrong keys are counted per client IP: past the limit they get 429 instead of 401."""
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            wait = limit_hit(request, "token_auth_failure", account=None)
            if wait is not None:
                raise rate_limited(wait) from None
            raise

    def authenticate_credentials(self, key):
        now = timezone.now()
        stale_before = connection.ops.adapt_datetimefield_value(now - TOUCH_EVERY)
        user = next(iter(get_user_model().objects.raw(token_owner_sql(), [stale_before, hash_key(key)])), None)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        # Mandatory verification holds for tokens too; a user with no address at all (`createsuperuser`'s) has
        # nothing to verify and an operator made them.
        if user.has_address and not user.has_verified:
            raise exceptions.AuthenticationFailed("Verify your email address first.")
        if user.token_stale:
            ApiToken.objects.filter(pk=user.token_id).update(last_used_at=now)
        return user, ApiToken(pk=user.token_id, user=user)


@cache
def token_owner_sql() -> str:
    """The token's user, with what the check needs of the token and of the user's addresses, in one query of
    SQL written once: the ORM built and compiled this query anew on every API call, for most of a short call's
    time (D117). Parameters: the time before which last_used_at is stale, the key's hash."""
    q = connection.ops.quote_name
    user = get_user_model()._meta
    users, user_id = q(user.db_table), f"u.{q(user.pk.column)}"
    tokens, addresses = q(ApiToken._meta.db_table), q(EmailAddress._meta.db_table)
    return (
        f"SELECT u.*, t.id AS token_id,"
        f" (t.last_used_at IS NULL OR t.last_used_at < %s) AS token_stale,"
        f" EXISTS (SELECT 1 FROM {addresses} a WHERE a.user_id = {user_id}) AS has_address,"
        f" EXISTS (SELECT 1 FROM {addresses} a WHERE a.user_id = {user_id} AND a.verified) AS has_verified"
        f" FROM {tokens} t JOIN {users} u ON {user_id} = t.user_id WHERE t.key_hash = %s"
    )
