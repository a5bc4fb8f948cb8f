"""allauth adapters: sign-ups (email or social) follow the staff-controlled `signup_open` switch."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from accounts.models import SiteSettings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return SiteSettings.current().signup_open


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        # Logging in to an existing account (also one linked by verified email) stays possible when closed.
        return SiteSettings.current().signup_open
