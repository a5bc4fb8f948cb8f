"""allauth adapters: sign-ups (email or social) follow the staff-controlled `signup_open` switch, the first account
of a fresh server becomes its admin, and without an email service the console shows where each email's link went."""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.headless.adapter import DefaultHeadlessAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.db import transaction

from accounts.models import SiteSettings
from accounts.services import admin_if_first

log = logging.getLogger("rubberduck.accounts")

CONSOLE_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
LINKS = ("activate_url", "password_reset_url")  # the link an email is for, by the template context's name


def emails_go_to_console() -> bool:
    return settings.EMAIL_BACKEND == CONSOLE_EMAIL_BACKEND


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return SiteSettings.current().signup_open

    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():
            admin_if_first(user)
            return super().save_user(request, user, form, commit)

    def send_mail(self, template_prefix, email, context):
        super().send_mail(template_prefix, email, context)
        if emails_go_to_console():
            link = next((context[name] for name in LINKS if context.get(name)), None)
            log.warning(
                "No email service is configured (SENDGRID_API_KEY), so the email to %s was printed above "
                "instead of sent.%s",
                email,
                f"\n    Its link: {link}" if link else "",
            )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        # Logging in to an existing account (also one linked by verified email) stays possible when closed.
        return SiteSettings.current().signup_open

    def save_user(self, request, sociallogin, form=None):
        with transaction.atomic():
            admin_if_first(sociallogin.user)
            return super().save_user(request, sociallogin, form)


class HeadlessAdapter(DefaultHeadlessAdapter):
    def populate_response_meta(self, request, meta):
        # The sign-up screens then say the verification link is in the server's console, not in an inbox.
        meta["email_to_console"] = emails_go_to_console()
