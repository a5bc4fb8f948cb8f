from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, hash_key
from accounts.ratelimits import limit_hit, rate_limited


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
        addresses = EmailAddress.objects.filter(user=OuterRef("user"))
        token = (
            ApiToken.objects.select_related("user")
            .annotate(has_address=Exists(addresses), has_verified=Exists(addresses.filter(verified=True)))
            .filter(key_hash=hash_key(key))
            .first()
        )  # one query: a token is checked on every API call
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        # Mandatory verification holds for tokens too; a user with no address at all (`createsuperuser`'s) has
        # nothing to verify and an operator made them.
        if token.has_address and not token.has_verified:
            raise exceptions.AuthenticationFailed("Verify your email address first.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
