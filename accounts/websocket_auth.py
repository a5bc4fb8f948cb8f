"""Who opens a WebSocket (/ws/logs/, /ws/stats/): an API token's user, or else the browser session's.

A socket that sends `Authorization: Token <key>` (the CLI, scripts) is the token's user, or nobody for a bad token
(never the session's). Without that header the session cookie counts, and only from this site's own pages (the
Origin check against cross-site WebSocket hijacking, which rides on cookies; a page cannot set that header).
"""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import ApiTokenAuthentication


class TokenOrSessionAuth:
    def __init__(self, inner):
        self.inner = inner
        self.by_session = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers", [])).get(b"authorization")
        if header is None:
            return await self.by_session(scope, receive, send)
        user = await database_sync_to_async(token_user)(header.decode("latin-1"))
        return await self.inner({**scope, "user": user}, receive, send)


def token_user(header: str):
    """The user of `Token <key>`, as the REST API checks it; anonymous for anything else (the consumer closes)."""
    keyword, _, key = header.strip().partition(" ")
    if keyword.lower() != ApiTokenAuthentication.keyword.lower() or not key.strip():
        return AnonymousUser()
    try:
        user, _ = ApiTokenAuthentication().authenticate_credentials(key.strip())
    except AuthenticationFailed:
        return AnonymousUser()
    return user
