"""Every provider's `route()` and `cache_key_parts()` read only what the request memo fingerprints.

The memo (proxies/request_memo.py) answers a repeat from its method, path, query, body, Content-Type and the
provider's `key_headers`: a provider that read anything else there would get another request's route or cache key.
"""

import re
from re import _parser as sre  # the stdlib's own regex parser: a matching path for any endpoint pattern

import pytest

import providers
from providers.base import Request, RouteError
from providers.openai import OpenAIProvider

FINGERPRINTED = {"method", "path", "query", "body", "headers", "json", "_json", "_json_parsed"}
EVERY_HEADER = "*"  # what iterating over the headers reads
HEADERS = {
    "content-type": "application/json",
    "authorization": "Bearer sk-test",
    "x-api-key": "sk-test",
    "api-key": "sk-test",
    "x-goog-api-key": "sk-test",
    "user-agent": "sdk/1.0",
    "host": "127.0.0.1:9000",
    "accept": "application/json",
    "x-stainless-retry-count": "0",
}
BODIES = [
    b'{"model":"m-1","stream":true,"messages":[{"role":"user","content":"hi"}],"contents":[]}',
    b'{"model":"m-1","stream":false}',
    b"",
    b"not json",
    b"[1, 2]",
]
QUERIES = ["", "api-version=2024-10-21&alt=sse&key=secret"]


class RecordedHeaders(dict):
    """Headers that note every name read; whatever walks over them reads them all."""

    def __init__(self, headers):
        super().__init__(headers)
        self.read = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)

    def __contains__(self, name):
        self.read.add(name)
        return super().__contains__(name)

    def setdefault(self, name, default=None):
        self.read.add(name)
        return super().setdefault(name, default)

    def pop(self, name, *default):
        self.read.add(name)
        return super().pop(name, *default)


def _reads_every_header(method: str):
    def walk(self, *args):
        self.read.add(EVERY_HEADER)
        return getattr(dict, method)(self, *args)

    return walk


for _method in ("__iter__", "__reversed__", "__eq__", "__or__", "__repr__", "items", "keys", "values", "copy"):
    setattr(RecordedHeaders, _method, _reads_every_header(_method))


class RecordedRequest(Request):
    """A Request that notes every attribute read: client_ip, say, is not fingerprinted either."""

    def __getattribute__(self, name):
        object.__getattribute__(self, "attributes").add(name)
        return super().__getattribute__(name)


def example_path(pattern: str) -> str:
    """A path the pattern matches: first alternatives, one repeat, the first of CHARACTERS a class allows."""
    return "".join(_emit(sre.parse(pattern)))


CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789-_."


def _emit(parsed):
    for op, av in parsed:
        if op is sre.LITERAL:
            yield chr(av)
        elif op is sre.SUBPATTERN:
            yield from _emit(av[-1])
        elif op is sre.BRANCH:
            yield from _emit(av[1][0])
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, item = av
            for _ in range(min(max(low, 1), high)):
                yield from _emit(item)
        elif op in (sre.ANY, sre.NOT_LITERAL, sre.IN):
            yield next(c for c in CHARACTERS if _allows(op, av, c))
        elif op is not sre.AT:  # anchors take no characters
            raise AssertionError(f"add {op} to example_path")


def _allows(op, av, c: str) -> bool:
    if op is sre.ANY:
        return True
    if op is sre.NOT_LITERAL:
        return ord(c) != av
    found = False
    for item, value in av:
        if item is sre.LITERAL:
            found |= ord(c) == value
        elif item is sre.RANGE:
            found |= value[0] <= ord(c) <= value[1]
        elif item is sre.CATEGORY:
            found |= bool(re.fullmatch({sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_WORD: r"\w"}[value], c))
    return found != (av[0][0] is sre.NEGATE)


def requests_of(provider):
    """(method, path) for every endpoint, plus an unknown path and, per endpoint, a method it does not take."""
    seen = []
    for endpoint in provider.endpoints:
        path = example_path(endpoint.pattern)
        assert endpoint.match(path), (provider.id, endpoint.pattern, path)
        seen += [(endpoint.method, path), ("PUT", path)]
    return [*seen, ("POST", "/no/such/path"), ("GET", "/")]


def reads_of(provider, method: str, path: str, query: str, body: bytes) -> tuple[set[str], set[str]]:
    """The header names and the request attributes that route() and cache_key_parts() read."""
    headers = RecordedHeaders({**HEADERS, **{name: "v" for name in provider.key_headers}})
    request = RecordedRequest(method, path, query, headers, body, client_ip="10.0.0.1")
    request.attributes = attributes = set()
    try:
        route = provider.route(request)
    except RouteError:
        pass
    else:
        provider.cache_key_parts(request, route)
    return headers.read, attributes


def contract_breaches(provider) -> list[str]:
    allowed = {"content-type", *provider.key_headers}
    breaches = []
    for method, path in requests_of(provider):
        for query in QUERIES:
            for body in BODIES:
                headers, attributes = reads_of(provider, method, path, query, body)
                for name in sorted(headers - allowed) + sorted(attributes - FINGERPRINTED):
                    breaches.append(f"{method} {path}?{query} {body[:12]!r}: read {name}")
    return breaches


@pytest.mark.parametrize("provider_id", sorted(providers.registry()))
def test_it_routes_and_keys_every_endpoint_on_what_the_memo_fingerprints(provider_id):
    provider = providers.get(provider_id)
    assert provider.endpoints
    assert contract_breaches(provider) == []


class PeekingProvider(OpenAIProvider):
    """Routes on the caller's SDK: the kind of provider the contract test is there to catch."""

    def route(self, request):
        request.headers.get("user-agent")
        return super().route(request)


class WalkingProvider(OpenAIProvider):
    """Keys on every header it was sent."""

    def cache_key_parts(self, request, route):
        path, query, _ = super().cache_key_parts(request, route)
        return path, query, sorted(request.headers.items())


class AddressProvider(OpenAIProvider):
    """Routes on the client's address, which the memo does not fingerprint either."""

    def route(self, request):
        assert request.client_ip
        return super().route(request)


@pytest.mark.parametrize(
    ("provider", "read"),
    [(PeekingProvider(), "read user-agent"), (WalkingProvider(), "read *"), (AddressProvider(), "read client_ip")],
)
def test_it_catches_a_provider_reading_what_the_memo_does_not_fingerprint(provider, read):
    breaches = contract_breaches(provider)
    assert breaches and all(breach.endswith(read) for breach in breaches)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        (r"/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+):generateContent", "/v1/models/a:generateContent"),
        (r"/model/(?P<model>.+)/converse", "/model/a/converse"),
        (r"/locations/(?P<location>[a-z0-9-]+)/x\.y", "/locations/a/x.y"),
        (r"/ids/(?P<id>\d{3})/(?P<rest>[^/]+)", "/ids/000/a"),
    ],
)
def test_it_builds_a_path_each_endpoint_pattern_matches(pattern, path):
    assert example_path(pattern) == path
