"""A fake OAuth 2 identity provider on loopback, speaking GitHub's and Google's shapes.

authorize -> 302 back to the client's redirect_uri with a code (the user "consents" at once);
token -> an access token for a valid code + client secret; then GitHub's /user and /user/emails, or Google's
userinfo plus an OpenID id_token in the token answer. Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

from tests.fakes.server import FakeUpstream, Received, Reply


@dataclass
class Identity:
    uid: str
    email: str
    verified: bool = True
    name: str = "Octo Cat"
    login: str = "octocat"


@dataclass
class FakeOAuth:
    client_id: str
    client_secret: str
    identity: Identity
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri it was issued for
    tokens: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.server = FakeUpstream(self.respond)

    def start(self) -> FakeOAuth:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Received]:
        return self.server.requests

    def respond(self, request: Received) -> Reply:
        parts = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        routes = {
            ("GET", "/login/oauth/authorize"): self.authorize,
            ("GET", "/o/oauth2/v2/auth"): self.authorize,
            ("POST", "/login/oauth/access_token"): self.github_token,
            ("POST", "/token"): self.google_token,
            ("GET", "/api/v3/user"): self.github_user,
            ("GET", "/api/v3/user/emails"): self.github_emails,
            ("GET", "/oauth2/v2/userinfo"): self.google_userinfo,
        }
        handler = routes.get((request.method, parts.path))
        if handler is None:
            return json_reply({"message": "Not Found"}, 404)
        return handler(request, query)

    def authorize(self, request, query) -> Reply:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return json_reply({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = query["redirect_uri"]
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return Reply(302, [("location", location)])

    def _exchange(self, request) -> str | None:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if "authorization" in request.headers:  # client_secret_basic
            import base64

            client_id, _, secret = base64.b64decode(request.headers["authorization"].split()[1]).decode().partition(":")
        redirect_uri = self.codes.pop(form.get("code", ""), None)
        if client_id != self.client_id or secret != self.client_secret or redirect_uri != form.get("redirect_uri"):
            return None
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return token

    def github_token(self, request, query) -> Reply:
        token = self._exchange(request)
        if token is None:
            return json_reply({"error": "bad_verification_code"}, 200)  # GitHub answers errors with 200
        return json_reply({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})

    def google_token(self, request, query) -> Reply:
        token = self._exchange(request)
        if token is None:
            return json_reply({"error": "invalid_grant"}, 400)
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": self.client_id,
            "sub": self.identity.uid,
            "email": self.identity.email,
            "email_verified": self.identity.verified,
            "name": self.identity.name,
            "iat": now,
            "exp": now + 3600,
        }
        # Signed with a throwaway key: allauth, having fetched it straight from the token endpoint, may skip the
        # signature check (OpenID Connect Core 3.1.3.7), but still checks issuer, audience and expiry.
        id_token = jwt.encode(claims, "fake-google-signing-key-of-32-bytes!!", algorithm="HS256")
        return json_reply(
            {
                "access_token": token,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "openid email profile",
                "id_token": id_token,
            }
        )

    def _authorised(self, request, scheme: str) -> bool:
        header = request.headers.get("authorization", "")
        return header.lower().startswith(scheme) and header.split()[-1] in self.tokens

    def github_user(self, request, query) -> Reply:
        if not self._authorised(request, "token"):
            return json_reply({"message": "Bad credentials"}, 401)
        ident = self.identity
        return json_reply({"id": int(ident.uid), "login": ident.login, "name": ident.name, "email": None})

    def github_emails(self, request, query) -> Reply:
        if not self._authorised(request, "token"):
            return json_reply({"message": "Bad credentials"}, 401)
        ident = self.identity
        return json_reply([{"email": ident.email, "primary": True, "verified": ident.verified, "visibility": None}])

    def google_userinfo(self, request, query) -> Reply:
        if not self._authorised(request, "bearer"):
            return json_reply({"error": "invalid_token"}, 401)
        ident = self.identity
        return json_reply({"id": ident.uid, "email": ident.email, "verified_email": ident.verified, "name": ident.name})


def json_reply(body, status: int = 200) -> Reply:
    return Reply(status, [("content-type", "application/json")], json.dumps(body).encode())
