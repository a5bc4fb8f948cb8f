"""How a Bedrock request's credentials get upstream.

SigV4 signs the Host, so a request signed for the proxy's address cannot be forwarded as it is. Three ways work:

1. The client signs for the proxy and the server has AWS credentials of its own: the proxy re-signs for the
   upstream host (`resign`). The client's signature only says who called; it is never checked or forwarded.
2. The client signs for the real Bedrock host and only its connection goes to the proxy
   (`providers.bedrock_redirect.redirect_to_proxy`), which names the signed host in SIGNED_HOST_HEADER: the
   proxy restores that Host and forwards everything else byte-identical.
3. A Bedrock API key (`Authorization: Bearer ...`) is not bound to a host and passes through unchanged.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

SIGNED_HOST_HEADER = "x-rubberduck-signed-host"
SIGNING_NAME = "bedrock"
# The hosts a client may have signed for when it uses the redirect helper (commercial, FIPS, China).
BEDROCK_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\Z")
# The hosts the server re-signs for with its own credentials: Bedrock Runtime's own, VPC endpoints included.
SIGNING_HOST = re.compile(
    r"(?:vpce-[a-z0-9-]+\.)?bedrock-runtime(?:-fips)?\.[a-z0-9-]+\.(?:vpce\.)?amazonaws\.com(?:\.cn)?\Z"
)
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")
# Set by SigV4 itself; replaced when the proxy signs again.
SIGV4_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})


def is_sigv4(authorization: str) -> bool:
    return authorization.startswith("AWS4-HMAC-SHA256")


def scope_region(authorization: str) -> str | None:
    """The region of a SigV4 Authorization header's credential scope."""
    m = _SCOPE.search(authorization)
    return m.group(1) if m else None


def host_region(url: str) -> str | None:
    """The region in a bedrock-runtime host name, e.g. `eu-west-1` of bedrock-runtime.eu-west-1.amazonaws.com."""
    m = BEDROCK_HOST.match((urlsplit(url).hostname or "") if "://" in url else url.split(":")[0])
    return m.group(1) if m else None


def may_sign_for(url: str, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether the server's own credentials may sign a request to `url`: Bedrock Runtime's hosts only (and those an
    operator added, RUBBERDUCK_BEDROCK_SIGNING_HOSTS), so they never vouch for a request to anyone else."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return bool(SIGNING_HOST.match(host)) or host in {h.lower() for h in extra_hosts}


def signed_headers(authorization: str) -> frozenset[str]:
    m = re.search(r"SignedHeaders=([^,\s]+)", authorization)
    return frozenset(m.group(1).split(";")) if m else frozenset()


class ServerCredentials:
    """The server's own AWS credentials from botocore's usual chain, never stored anywhere.

    The environment is read on every call (cheap, and always current). The rest of the chain (shared files,
    SSO, container or instance roles) can touch the disk or the network, so its answer is kept for a while;
    botocore refreshes temporary credentials itself.
    """

    RECHECK_SECONDS = 300.0

    def __init__(self):
        self._lock = threading.Lock()
        self._chain = None
        self._checked_at: float | None = None

    def get(self):
        """Frozen credentials, or None when the server has none."""
        from botocore.credentials import EnvProvider  # botocore's signing stack is heavy: loaded when used (D33)

        env = EnvProvider().load()
        if env is not None:
            return env.get_frozen_credentials()
        with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at > self.RECHECK_SECONDS:
                import botocore.session

                self._chain = botocore.session.get_session().get_credentials()
                self._checked_at = now
            chain = self._chain
        return chain.get_frozen_credentials() if chain is not None else None

    def forget(self) -> None:
        with self._lock:
            self._chain, self._checked_at = None, None


def resign(credentials, region: str, method: str, url: str, headers: list[tuple[str, str]], body: bytes):
    """`headers` plus a fresh SigV4 signature for `url` (its host, path as sent, body) with `credentials`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    SigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
    return list(request.headers.items())
