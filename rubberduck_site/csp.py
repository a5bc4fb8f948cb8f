"""Content-Security-Policy for the HTML pages: each may load only what it uses, and only from this server.

The React app (rubberduck_site/views.py) gets the tightest: its own scripts, styles and icon, its API calls and its
live streams (/ws/logs/, /ws/stats/) on this very host. Django's own pages (the admin, allauth's fallback forms,
Swagger UI at /api/docs/) also use inline styles and data: images, so their policy allows those two, no more.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
COMMON = "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
DJANGO_PAGES = f"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; {COMMON}"


def app_policy(request: HttpRequest) -> str:
    """The React app's: WebSockets to this host only (`'self'` does not cover ws: in every browser)."""
    host = request.get_host()
    return f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; {COMMON}"


class ContentSecurityPolicyMiddleware:
    """Gives an HTML answer that has no policy of its own the one for Django's pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response and response.get("Content-Type", "").startswith("text/html"):
            response[HEADER] = DJANGO_PAGES
        return response
