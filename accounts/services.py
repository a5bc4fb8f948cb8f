from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model


def user_create_verified(*, email: str, password: str | None = None):
    """A user whose email counts as verified (for the CLI and tests)."""
    User = get_user_model()
    user = User.objects.create_user(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user
