"""One error shape for our own API (not the proxy ports, which speak each provider's shape)."""

from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"detail": str(response.data["detail"]), "code": getattr(response.data["detail"], "code", code)}
    return response
