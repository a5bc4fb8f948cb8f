"""One error shape for our own API (not the proxy ports, which speak each provider's shape)."""

from django.http import JsonResponse
from django.views import defaults
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"detail": str(response.data["detail"]), "code": getattr(response.data["detail"], "code", code)}
    return response


def not_found(request, exception):
    """Django's 404 (a URL no route matches, e.g. /api/v1/proxies/x/): in the API's shape under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "A server error occurred.", "code": "error"}, status=500)
    return defaults.server_error(request)
