"""Plain Django views that complete allauth's headless API for our set-up."""

from allauth.account.internal.flows import email_verification
from allauth.account.stages import EmailVerificationStage, LoginStageController
from django.http import JsonResponse
from django.views.decorators.http import require_POST


@require_POST
def resend_verification_email(request, client="browser"):
    """`POST /_allauth/<client>/v1/auth/email/verify/resend` for verification by *link*.

    allauth's own view at this path only serves verification by code (it answers 409 otherwise), but the contract
    has the SPA offer "resend" on its "check your inbox" screen. So: the address of the sign-up or login pending in
    this session gets a fresh link, subject to allauth's cooldown (ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN) -> 429.
    Session-bound and CSRF-checked like every other browser-client call.
    """
    stage = LoginStageController.enter(request, EmailVerificationStage.key)
    if not stage:
        return JsonResponse({"status": 409, "errors": [{"message": "No email verification is pending."}]}, status=409)
    user = stage.login.user
    address = email_verification.get_address_for_login(stage.login) if user else None
    if address is None or address.verified:
        return JsonResponse({"status": 200})  # nothing to send, and no hint as to why (enumeration)
    if not email_verification.consume_email_verification_rate_limit(request, address.email, dry_run=True):
        return JsonResponse(
            {
                "status": 429,
                "errors": [
                    {"message": "An email was just sent. Please wait a few minutes.", "code": "too_many_requests"}
                ],
            },
            status=429,
        )
    email_verification.send_verification_email_to_address(request, address)
    return JsonResponse({"status": 200})
