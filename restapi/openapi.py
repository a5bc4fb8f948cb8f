"""How the REST API describes itself in its OpenAPI schema (drf-spectacular): the error shapes of
rubberduck_site.errors and the answers several views share. Views annotate themselves with e.g.
`@extend_schema(responses={200: ProxySerializer, **errors(401, 404)})`."""

import inspect

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers


class ApiErrorSerializer(serializers.Serializer):
    """Every error of this API that is not about particular fields."""

    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(
        help_text="What went wrong, for a program: e.g. `not_authenticated`, `authentication_failed`, "
        "`permission_denied`, `not_found`, `parse_error`, `invalid`, `rate_limited`."
    )


class FieldErrorsSerializer(serializers.Serializer):
    """Invalid fields: each with its messages; a nested object or list has its own errors in the same shape.
    Errors about the input as a whole come under `non_field_errors`."""


class FieldErrorsSchema(OpenApiSerializerExtension):
    """A map from field names to messages, which a serializer's fixed properties cannot describe."""

    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema, direction):
        nested = {"type": "object", "additionalProperties": {}}
        return {
            "type": "object",
            "description": inspect.getdoc(FieldErrorsSerializer),
            "additionalProperties": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    nested,
                    {"type": "array", "items": nested},
                ]
            },
            "example": {"port": ["This port is already used by another proxy."]},
        }


BAD_REQUEST = PolymorphicProxySerializer(
    component_name="BadRequest",
    serializers=[FieldErrorsSerializer, ApiErrorSerializer],
    resource_type_field_name=None,
)

ERRORS = {
    400: OpenApiResponse(
        BAD_REQUEST,
        "Invalid input: the errors per field, or `{detail, code}` when the input as a whole is refused "
        "(e.g. a body that is not JSON).",
    ),
    401: OpenApiResponse(ApiErrorSerializer, "No valid `Authorization: Token <key>` and no signed-in session."),
    403: OpenApiResponse(
        ApiErrorSerializer, "Not allowed: a session write without its CSRF token, or a change only staff may make."
    ),
    404: OpenApiResponse(ApiErrorSerializer, "No such object among yours (another user's objects answer 404 too)."),
    429: OpenApiResponse(ApiErrorSerializer, "Too many attempts: try again after `Retry-After` seconds."),
}


def errors(*codes: int) -> dict:
    """The documented error answers for these statuses, to merge into an `@extend_schema(responses=...)`."""
    return {code: ERRORS[code] for code in codes}


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)


class DeletedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField(help_text="How many were deleted.")
