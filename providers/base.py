"""The provider contract: everything provider-specific lives behind `Provider`.

The proxy engine (proxies/app.py) is the same for every provider. It asks the provider, in order:
`route()` what a request is, `cache_key_parts()` what identifies it, `upstream_request()` where and how to
forward it, `usage()` / `stream_inspector()` what it cost, and `error()` how to say no in the provider's
own wire format. A new provider is one module in this package ending with `provider_classes = [...]`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote

import orjson

from providers import ids

# Hop-by-hop headers (RFC 9110 7.6.1) and those that describe the framing of a body we may re-frame.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The per-request cache directive (docs/recordings.md): for the proxy only, never forwarded, never keyed.
CACHE_DIRECTIVE_HEADER = "x-rubberduck-cache"
NOT_FORWARDED_UPSTREAM = HOP_BY_HOP | {"host", "content-length", "accept-encoding", CACHE_DIRECTIVE_HEADER}
# A replaying proxy's answer to a call it has no recording of: a status no official SDK retries (openai and
# anthropic retry 408, 409, 429 and 5xx; botocore throttling codes and 5xx; google-genai 408, 429 and 5xx).
NOT_RECORDED_STATUS = 404
# Query parameters that carry credentials: forwarded, never part of a cache key.
CREDENTIAL_PARAMS = frozenset({"key", "api_key", "api-key", "access_token", "token", "sig", "signature"})
# A named group of an Endpoint pattern (one level of plain parentheses inside allowed), shown as {name}.
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")


class Fault(enum.Enum):
    """Why the proxy itself answers with an error instead of the upstream."""

    INJECTED = "injected"  # an error rule of the failure config fired
    RATE_LIMITED = "rate_limited"  # the proxy's RPM limit was exceeded
    IP_BLOCKED = "ip_blocked"  # the client's address is not allowed
    NOT_FOUND = "not_found"  # a path the provider does not have
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BAD_REQUEST = "bad_request"  # the request cannot be understood (e.g. invalid JSON)
    UPSTREAM_UNREACHABLE = "upstream_unreachable"  # 502
    UPSTREAM_TIMEOUT = "upstream_timeout"  # 504
    FORBIDDEN = "forbidden"  # the proxy cannot forward this request's credentials
    NOT_RECORDED = "not_recorded"  # a replaying proxy has no recorded answer (answered with NOT_RECORDED_STATUS)


@dataclass(slots=True)
class Request:
    """An incoming request on a proxy port, as the engine hands it to the provider."""

    method: str
    path: str  # as received, percent-encoding intact
    query: str  # raw query string, without "?"
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_ip: str = ""
    _json: Any = field(default=None, repr=False)
    _json_parsed: bool = field(default=False, repr=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON (parsed once)."""
        if not self._json_parsed:
            self._json_parsed = True
            if self.body:
                try:
                    self._json = orjson.loads(self.body)
                except orjson.JSONDecodeError:
                    self._json = None
        return self._json


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API operation a provider answers. `pattern` is matched against the percent-decoded path;
    a named group `model` takes the model from the path. `stream`: "never", "always", or "body" (the JSON
    body's `"stream": true` decides)."""

    method: str
    pattern: str
    operation: str
    stream: str = "never"
    cacheable: bool = True
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "regex", re.compile(self.pattern + r"\Z"))

    def match(self, path: str):
        return self.regex.match(path)

    @property
    def template(self) -> str:
        """The pattern as people write a path: `/v1/models/{model}`."""
        return _NAMED_GROUP.sub(r"{\1}", self.pattern).replace("\\", "")


@dataclass(frozen=True, slots=True)
class Route:
    """What a request is: its operation, whether its answer streams, whether it may be cached, its model."""

    operation: str
    stream: bool = False
    cacheable: bool = True
    model: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    passthrough: bool = False  # modelled by no endpoint: forwarded as it is, both bodies streamed, never cached


PASSTHROUGH = Route("passthrough", cacheable=False, passthrough=True)
# A "." or ".." path segment: no API has one, and a server normalising it would answer for another path.
DOT_SEGMENT = re.compile(r"/\.\.?(?:/|\Z)")


@dataclass(slots=True)
class Usage:
    """Tokens as the provider reported them (None where it did not)."""

    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, data: dict | None) -> Usage | None:
        return cls(**data) if data else None


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete response the proxy sends itself."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: list[tuple[str, str]]
    body: bytes | AsyncIterable[bytes]  # a pass-through's body streams from the client as the upstream takes it


class RouteError(Exception):
    """Raised by `route()` for a request the provider must refuse (unknown path, wrong method, bad body)."""

    def __init__(self, fault: Fault, message: str, status: int):
        super().__init__(message)
        self.fault, self.message, self.status = fault, message, status


class Refusal(Exception):
    """Raised by `upstream_request()` when a request cannot be forwarded; carries the answer to send."""

    def __init__(self, answer: Answer):
        super().__init__(answer.status)
        self.answer = answer


class StreamInspector:
    """Follows one streamed answer. The engine feeds it every chunk as it passes to the client."""

    usage: Usage | None = None
    error: bool = False  # an error event was seen: the stream must not be cached
    done: bool = False  # the provider's terminal event was seen: the stream is complete even if cut now

    def feed(self, chunk: bytes) -> list[bytes]:
        """Takes the next bytes off the wire; returns the complete events they finish, as raw bytes
        including their framing. Bytes of an unfinished event stay buffered inside."""
        raise NotImplementedError


class Provider:
    """Base class of every provider. Subclasses set the class attributes and `endpoints`, and override
    the methods whose defaults do not fit their wire format."""

    id: ClassVar[str]
    name: ClassVar[str]
    default_upstream_url: ClassVar[str]
    # Whether a proxy of this provider must be given an upstream_url (e.g. Azure: per resource).
    upstream_required: ClassVar[bool] = False
    # The provider id genai-prices knows this provider by, for cost.
    pricing_provider_id: ClassVar[str | None] = None
    # Request headers that select an API version or feature set: part of the cache key.
    key_headers: ClassVar[tuple[str, ...]] = ()
    # The response header that carries a request id, refreshed on replays.
    request_id_header: ClassVar[str] = "x-request-id"
    endpoints: ClassVar[tuple[Endpoint, ...]] = ()
    # What a client appends to the proxy's address to get its SDK's base URL (e.g. "/v1" for OpenAI).
    client_base_path: ClassVar[str] = ""
    # Path prefixes the provider's API lives under, as its SDKs call it: every request the proxy serves is under one.
    api_roots: ClassVar[tuple[str, ...]] = ()
    # The WebSocket APIs its SDKs open, as (name, path): tunnelled as any WebSocket under an API root is, listed so
    # that coverage() can name them.
    websockets: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Response headers naming a URL for the client's next request (a redirect's, an upload session's): one on the
    # upstream is made the proxy's in a pass-through's answer, so that request comes through the proxy too.
    url_headers: ClassVar[frozenset[str]] = frozenset({"location", "content-location"})

    def coverage(self) -> dict:
        """What a proxy of this provider does with requests, from `endpoints` and `api_roots`: the operations it
        caches, those it forwards uncached, the roots under which other requests pass through (WebSockets too: the
        known ones named), what it refuses."""
        groups: dict[tuple, dict] = {}
        for endpoint in self.endpoints:
            item = groups.setdefault(
                (endpoint.cacheable, endpoint.operation, endpoint.method),
                {"operation": endpoint.operation, "method": endpoint.method, "stream": endpoint.stream, "paths": []},
            )
            if endpoint.template not in item["paths"]:
                item["paths"].append(endpoint.template)
        roots = ", ".join(self.api_roots)
        return {
            "cached": [item for (cacheable, *_), item in groups.items() if cacheable],
            "forwarded": [item for (cacheable, *_), item in groups.items() if not cacheable],
            "passthrough": list(self.api_roots),
            "websockets": [{"api": name, "path": path} for name, path in self.websockets],
            "refused": f"Paths outside {roots}: answered with {self.name}'s own 404, never forwarded.",
        }

    def for_owner(self, *, server_credentials: bool) -> Provider:
        """The provider as a proxy of an owner with this policy (proxies/policy.py) uses it: itself, unless it acts
        differently for them (Bedrock re-signs with the server's AWS credentials only for owners who may)."""
        return self

    def route(self, request: Request) -> Route:
        """Returns the Route of `request`: its endpoint's, or a pass-through under an API root. Raises
        RouteError(NOT_FOUND / BAD_REQUEST). Reads only the method, path, query, body and Content-Type
        (proxies/request_memo.py relies on it)."""
        path = unquote(request.path)
        for endpoint in self.endpoints:
            if endpoint.method != request.method:
                continue
            m = endpoint.match(path)
            if m is None:
                continue
            params = m.groupdict()
            body = request.json
            if request.body and body is None and request.headers.get("content-type", "").startswith("application/json"):
                raise RouteError(Fault.BAD_REQUEST, "We could not parse the JSON body of your request.", 400)
            from_body = body if isinstance(body, dict) else {}
            stream = endpoint.stream == "always" or (endpoint.stream == "body" and from_body.get("stream") is True)
            model = params.get("model") or from_body.get("model")
            return Route(
                endpoint.operation, stream, endpoint.cacheable, model if isinstance(model, str) else None, params
            )
        return self.passthrough_route(request.method, path)

    def passthrough_route(self, method: str, path: str) -> Route:
        """The Route of a request no endpoint models, given its percent-decoded `path`: passed through under an API
        root; anywhere else (or with a dot segment, which no API path has) RouteError(NOT_FOUND)."""
        if path.startswith(self.api_roots) and not DOT_SEGMENT.search(path):
            return PASSTHROUGH
        raise RouteError(Fault.NOT_FOUND, f"Unknown request URL: {method} {path}.", 404)

    def unmodelled(self, method: str, path: str) -> Route | None:
        """The pass-through Route of a request from its method and percent-encoded path alone (the body need not
        be read to know it); None when an endpoint models it, or when route() refuses it."""
        path = unquote(path)
        if any(endpoint.method == method and endpoint.match(path) for endpoint in self.endpoints):
            return None
        try:
            return self.passthrough_route(method, path)
        except RouteError:
            return None

    def signs_body(self, request: Request) -> bool:
        """Whether forwarding `request` signs its body (upstream_request() needs it whole): a pass-through's body
        is then read before it goes upstream instead of streaming. `request.body` is empty when asked."""
        return False

    def cache_key_parts(
        self, request: Request, route: Route
    ) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
        """Returns (normalised path, query pairs without credentials, version-selecting headers). Reads only
        the method, path, query, body and `key_headers` (proxies/request_memo.py relies on it)."""
        query = (
            sorted((k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k not in CREDENTIAL_PARAMS)
            if request.query
            else []
        )
        headers = [(name, request.headers[name]) for name in self.key_headers if name in request.headers]
        return unquote(request.path), query, headers

    def upstream_base(self, upstream_url: str, request: Request, route: Route) -> str:
        """The upstream base URL for this request (default: the proxy's upstream_url or the provider's own)."""
        return (upstream_url or self.default_upstream_url).rstrip("/")

    def upstream_path(self, request: Request, route: Route) -> str:
        """The path to append to the upstream base (default: the incoming path unchanged)."""
        return request.path

    def upstream_request(self, upstream_url: str, request: Request, route: Route) -> UpstreamRequest:
        """Where and how to forward `request`. Raises Refusal to answer the client directly instead."""
        url = self.upstream_base(upstream_url, request, route) + self.upstream_path(request, route)
        if request.query:
            url += "?" + request.query
        headers = [(k, v) for k, v in request.headers.items() if k not in NOT_FORWARDED_UPSTREAM]
        headers.append(("accept-encoding", "identity"))
        return UpstreamRequest(url, headers, request.body)

    def client_body(self, route: Route, body: bytes, upstream_base: str, proxy_base: str) -> bytes:
        """A forwarded, uncached answer's body as the client gets it. Where it names an upstream URL for the client
        to call next (Anthropic's batch results), that URL is made the proxy's (`proxy_base`: scheme and host as
        the client called it), so the next call comes through the proxy too. Default: the body as it is."""
        return body

    def usage(self, route: Route, body: bytes) -> Usage | None:
        """Tokens from a complete JSON answer, or None when it carries none."""
        return None

    def answer_usage(self, route: Route, body: bytes, headers: list[tuple[str, str]]) -> Usage | None:
        """Tokens from a complete answer, given its body and response headers (lower-case names), for providers
        that report usage in headers (Bedrock InvokeModel). Default: `usage(route, body)`."""
        return self.usage(route, body)

    def stream_inspector(self, route: Route) -> StreamInspector:
        """A fresh inspector for one streamed answer of `route`."""
        raise NotImplementedError

    def new_request_id(self) -> str:
        return "req_" + ids.hex_id(16)

    def error(
        self,
        status: int,
        fault: Fault = Fault.INJECTED,
        *,
        message: str | None = None,
        retry_after: int | None = None,
        limit: int | None = None,
        route: Route | None = None,
    ) -> Answer:
        """The provider's own error answer for `status` (body, headers and status exactly as the provider
        sends them), so that its SDK raises its native exception. `retry_after` (seconds) is advertised
        in the provider's retry headers when set (RPM limit, injected 429/503); `limit` is the proxy's
        requests-per-minute limit when the RPM limit fired (for the provider's rate-limit headers);
        `route` is set when the request was routed already."""
        raise NotImplementedError

    @staticmethod
    def json_object(body: bytes) -> dict | None:
        """A JSON answer's top-level object, or None when the body is not one (usage extraction)."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def json_answer(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
        return Answer(status, [("content-type", "application/json"), *(headers or [])], orjson.dumps(payload))
