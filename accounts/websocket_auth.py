"""Who opens a WebSocket (/ws/logs/, /ws/stats/): an API token's user, or else the browser session's.

A socket that sends `Authorization: Token <key>` (the CLI, scripts) is the token's user, or nobody for a bad token
(never the session's). Without that header the session cookie counts, and only from this site's own pages (the
Origin check against cross-site WebSocket hijacking, which rides on cookies; a page cannot set that header).
Wrong tokens count against the client's address as the REST API's do: past the limit the socket is closed with
4429 before any key is looked up.
"""

from types import SimpleNamespace

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import ApiTokenAuthentication
from accounts.ratelimits import limit_hit

CLOSE_RATE_LIMITED = 4429


class TokenOrSessionAuth:
    def __init__(self, inner):
        self.inner = inner
        self.by_session = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers", [])).get(b"authorization")
        if header is None:
            return await self.by_session(scope, receive, send)
        peer = SimpleNamespace(META={"REMOTE_ADDR": (scope.get("client") or ("",))[0]})  # what the limits read
        user = await database_sync_to_async(token_user)(header.decode("latin-1"), peer)
        if user is None:
            await receive()  # the handshake's websocket.connect, answered with a refusal
            return await send({"type": "websocket.close", "code": CLOSE_RATE_LIMITED})
        return await self.inner({**scope, "user": user}, receive, send)


def token_user(header: str, peer):
    """The user of `Token <key>`, as the REST API checks it; anonymous for anything else (the consumer closes);
    None once `peer` sent too many wrong ones."""
    keyword, _, key = header.strip().partition(" ")
    if keyword.lower() != ApiTokenAuthentication.keyword.lower() or not key.strip():
        return AnonymousUser()
    try:
        user, _ = ApiTokenAuthentication().authenticate_credentials(key.strip())
    except AuthenticationFailed:
        return None if limit_hit(peer, "token_auth_failure", account=None) is not None else AnonymousUser()
    return user
