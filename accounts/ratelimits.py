"""Abuse limits (django-ratelimit): each guarded action is counted per client IP and per account.

How this combines with allauth's own ACCOUNT_RATE_LIMITS: ours is the outer layer and counts every *attempt*
(a 429 here never reaches allauth); allauth's stays on underneath with its defaults and counts what only it can
see (failed logins per account: 5 per 5 minutes, answered as a 400 "too_many_login_attempts" form error;
resends of verification mail; reset-key use). Both count in the same `default` cache, so they hold across
processes when REDIS_URL is set. RATELIMIT_ENABLE=0 switches ours off (e.g. for browser test suites).
"""

import json
import re

from django.conf import settings
from django.http import JsonResponse
from django_ratelimit.core import get_usage
from rest_framework.exceptions import APIException

MESSAGE = "Too many attempts. Please wait a minute and try again."

DEFAULT_RATES = {
    "login": {"ip": "10/m", "account": "5/m"},
    "signup": {"ip": "10/m", "account": "3/m"},
    "password_reset": {"ip": "10/m", "account": "3/m"},
    "token_create": {"ip": "30/m", "account": "10/m"},
    "token_auth_failure": {"ip": "30/m"},  # wrong `Authorization: Token` keys (accounts/authentication.py)
}

# allauth endpoints (headless for the SPA, and the regular views that HEADLESS_ONLY=False keeps alive).
GUARDED_PATHS = [
    (re.compile(r"^/_allauth/(browser|app)/v1/auth/login$"), "login"),
    (re.compile(r"^/_allauth/(browser|app)/v1/auth/signup$"), "signup"),
    (re.compile(r"^/_allauth/(browser|app)/v1/auth/password/request$"), "password_reset"),
    (re.compile(r"^/accounts/login/$"), "login"),
    (re.compile(r"^/accounts/signup/$"), "signup"),
    (re.compile(r"^/accounts/password/reset/$"), "password_reset"),
]


class RateLimited(APIException):
    status_code = 429
    default_detail = MESSAGE
    default_code = "rate_limited"


def rates(action: str) -> dict:
    return {**DEFAULT_RATES[action], **getattr(settings, "RUBBERDUCK_RATE_LIMITS", {}).get(action, {})}


def limit_hit(request, action: str, account: str | None) -> int | None:
    """Counts one attempt of `action`; returns the seconds until it may be retried when over a limit, else None.
    Both counters are always incremented, so an attacker rotating accounts from one IP is still caught."""
    waits = []
    keys = {"ip": ip_key(request)}
    if account:
        keys["account"] = lambda group, request: account
    for scope, key in keys.items():
        usage = get_usage(
            request, group=f"rubberduck:{action}:{scope}", key=key, rate=rates(action)[scope], increment=True
        )
        if usage and usage["should_limit"]:
            waits.append(usage["time_left"])
    # At least 1: django-ratelimit says 0 in a window's last second, and a 429 must still say when to retry
    # (DRF leaves Retry-After out for a wait of 0).
    return max(1, *waits) if waits else None


def ip_key(request):
    """django-ratelimit's own key (IPv6 counted per /64), or one shared key when the server gave no peer address
    (an ASGI server on a UNIX socket), which django-ratelimit would fail the request for."""
    return "ip" if request.META.get("REMOTE_ADDR") else (lambda group, request: "no-address")


def check_limit(request, action: str, account: str | None) -> None:
    """For our DRF views: raises a 429 in the API's one error shape."""
    wait = limit_hit(request, action, account)
    if wait is not None:
        raise rate_limited(wait)


def rate_limited(wait: int) -> RateLimited:
    error = RateLimited()
    error.wait = wait  # DRF turns this into a Retry-After header
    return error


def _account_of(request) -> str | None:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return None
        value = body.get("email") or body.get("username") if isinstance(body, dict) else None
    else:
        value = request.POST.get("login") or request.POST.get("email")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


class AuthRateLimitMiddleware:
    """Guards allauth's login, sign-up and password-reset POSTs before allauth sees them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST":
            for pattern, action in GUARDED_PATHS:
                if pattern.match(request.path_info):
                    wait = limit_hit(request, action, _account_of(request))
                    if wait is not None:
                        return self.too_many(wait)
                    break
        return self.get_response(request)

    @staticmethod
    def too_many(wait: int) -> JsonResponse:
        # allauth's error shape, which the SPA already reads for these endpoints.
        response = JsonResponse(
            {"status": 429, "errors": [{"message": MESSAGE, "code": "too_many_requests"}]}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
