"""The CA certificate that signs TLS proxies' certificates, for clients to verify them with."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from restapi.openapi import errors


class CaCertificateApi(APIView):
    @extend_schema(
        operation_id="tls_ca_retrieve",
        summary="The CA certificate that signs TLS proxies' certificates",
        description="Give it to clients of `tls: true` proxies to verify them with (e.g. boto3's `verify=`).",
        responses={
            (200, "application/x-pem-file"): OpenApiResponse(OpenApiTypes.STR, "The certificate, PEM-encoded."),
            **errors(401),
        },
    )
    def get(self, request):
        from proxies import tls  # cryptography is heavy: loaded when TLS is first used (D33)

        response = HttpResponse(tls.ca_pem(), content_type="application/x-pem-file")
        response["Content-Disposition"] = 'attachment; filename="rubberduck-ca.pem"'
        return response
