"""Client-side helper: a boto3 Bedrock client signs for the real AWS host, and only its connection goes to a
Rubberduck proxy. The proxy then needs no AWS credentials of its own and forwards the request unchanged.

    import boto3
    from providers.bedrock_redirect import redirect_to_proxy

    client = boto3.client("bedrock-runtime", region_name="us-east-1")  # no endpoint_url
    redirect_to_proxy(client, "http://127.0.0.1:9001")

This module needs only botocore; copy it into a project that does not install Rubberduck.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# Names the host the request was signed for; added after signing, so it is not among the SignedHeaders.
SIGNED_HOST_HEADER = "x-rubberduck-signed-host"


def redirect_to_proxy(client, proxy_url: str) -> None:
    """Sends every request of `client` (already SigV4-signed for its real endpoint) to `proxy_url` instead,
    with the signed host in SIGNED_HOST_HEADER. Path, query, body and signed headers stay as they were."""
    proxy = urlsplit(proxy_url)
    if proxy.scheme not in ("http", "https") or not proxy.netloc:
        raise ValueError(f"proxy_url must be an http(s) URL, not {proxy_url!r}")

    def before_send(request, **kwargs):
        url = urlsplit(request.url)
        request.headers[SIGNED_HOST_HEADER] = url.netloc
        request.url = urlunsplit((proxy.scheme, proxy.netloc, url.path, url.query, ""))
        # Returning None lets botocore send the (redirected) request itself.

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-send.{service}.*", before_send)
