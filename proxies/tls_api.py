"""The CA certificate that signs TLS proxies' certificates, for clients to verify them with."""

from django.http import HttpResponse
from rest_framework.views import APIView


class CaCertificateApi(APIView):
    def get(self, request):
        from proxies import tls  # cryptography costs ~16 MiB of RSS: loaded when TLS is first used

        response = HttpResponse(tls.ca_pem(), content_type="application/x-pem-file")
        response["Content-Disposition"] = 'attachment; filename="rubberduck-ca.pem"'
        return response
