from datetime import timedelta

from allauth.account.models import EmailAddress
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
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not email_verified(token.user):
            raise exceptions.AuthenticationFailed("Verify your email address first.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token


def email_verified(user) -> bool:
    """Mandatory verification holds for tokens too. A user with no address on record at all (made by
    `createsuperuser`) is let through: there is nothing to verify and an operator made them."""
    addresses = list(EmailAddress.objects.filter(user=user).values_list("verified", flat=True))
    return not addresses or any(addresses)
