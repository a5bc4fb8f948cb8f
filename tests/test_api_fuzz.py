"""The REST API under fuzzing (schemathesis, driven by the API's own OpenAPI schema at /api/schema/).

Every /api/v1 operation gets inputs that fit the schema and inputs that break it; then chains of calls follow the
links between operations (create a proxy, then read, change, start, stop, fail, empty and delete it), while a
second user tries every object the first one reaches. No answer is a 5xx, every answer is one the schema
describes (status, content type, headers, body), and the second user only ever gets 404 for the first one's
objects and never sees them in a list.

The API alone is fuzzed: no runner serves the proxies it creates (a start answers 202, pending, at once).
RUBBERDUCK_FUZZ_EXAMPLES sets the inputs per operation and the call chains: a short, reproducible run by default
(`make test`); by hand, e.g. `RUBBERDUCK_FUZZ_EXAMPLES=500 pytest -s tests/test_api_fuzz.py` (the figures are
printed at the end of each test). With DATABASE_URL set, it fuzzes against that database.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    rule,
    run_state_machine_as_test,
)
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from accounts.models import ApiToken, hash_key
from proxies.models import Proxy
from tests.factories import LogEntryFactory, ProxyFactory

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("RUBBERDUCK_FUZZ_EXAMPLES", "0")) or None
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]


def fuzz_settings(examples: int, **kwargs) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,  # nothing written beside the checkout
        derandomize=EXAMPLES is None,  # the short run is the same every time; a run by hand explores
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


@dataclass
class Tally:
    inputs: int = 0
    probes: int = 0  # the second user's attempts on the first one's objects
    statuses: Counter = field(default_factory=Counter)

    def count(self, status: int) -> None:
        self.inputs += 1
        self.statuses[status] += 1

    def report(self, name: str) -> str:
        server_errors = sum(n for status, n in self.statuses.items() if status >= 500)
        by_class = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"{name}: {self.inputs} inputs ({by_class}), {self.probes} cross-user probes, {server_errors} 5xx"


@dataclass
class Fuzz:
    schema: object
    alice: str  # Authorization headers
    bob: str
    alice_user: object
    bob_user: object
    first_proxy: int
    tally: Tally = field(default_factory=Tally)

    def as_alice(self, case):
        keep_token(self.alice_user, self.alice)  # the fuzzer may have revoked it: Alice goes on all the same
        response = case.call(headers={"Authorization": self.alice})
        self.tally.count(response.status_code)
        return response

    def validate(self, case, response):
        case.validate_response(response, checks=CHECKS, headers={"Authorization": self.alice})


def keep_token(user, authorization: str) -> None:
    key = authorization.removeprefix("Token ")
    ApiToken.objects.get_or_create(key_hash=hash_key(key), defaults={"user": user, "prefix": key[:10]})


@pytest.fixture
def fuzz(user, other_user, settings):
    settings.RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS = False  # the upstream guard is fuzzed too
    settings.RATELIMIT_ENABLE = False  # limits answer 429 after a few tries; the inputs after them matter more
    # No runner serves these proxies: a start answers 202 (pending) at once instead of waiting for one.
    settings.RUBBERDUCK_APPLY_WAIT_SECONDS = 0
    _, alice = ApiToken.issue(user, "fuzz")
    _, bob = ApiToken.issue(other_user, "fuzz")
    first_proxy = alices(user)
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    return Fuzz(schema, f"Token {alice}", f"Token {bob}", user, other_user, first_proxy)


def alices(user) -> int:
    """Something of Alice's of every kind the API shows, a proxy with log entries; returns the proxy's id."""
    proxy = Proxy.objects.filter(owner=user).first() or ProxyFactory(owner=user, name="alice")
    LogEntryFactory.create_batch(3, proxy=proxy)
    return proxy.pk


def test_it_answers_every_operation_as_documented_and_never_with_a_server_error(fuzz):
    operations = [result.ok() for result in fuzz.schema.get_all_operations()]
    assert len(operations) >= 20  # the schema's every /api/v1 operation
    for operation in operations:
        # Without a path, query or body, only the credentials could be broken: the other tests do that.
        breakable = operation.get_request_payload_content_types() or any(
            p.location.value in ("path", "query") for p in operation.iter_parameters()
        )
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if breakable else (GenerationMode.POSITIVE,):

            @given(case=operation.as_strategy(generation_mode=mode))
            @fuzz_settings(EXAMPLES or 8)
            def answers_as_documented(case):
                fuzz.validate(case, fuzz.as_alice(case))

            answers_as_documented()

    print(fuzz.tally.report("operations"))
    assert fuzz.tally.inputs > 20 * 10 and not any(s >= 500 for s in fuzz.tally.statuses)
    intruder_sees_nothing_of(fuzz)


MODES = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
PROXY = "/api/v1/proxies/{id}/"
ON_A_PROXY = [
    (PROXY, "GET"),
    (PROXY, "PATCH"),
    (PROXY, "DELETE"),
    (PROXY + "start", "POST"),
    (PROXY + "stop", "POST"),
    (PROXY + "cache", "DELETE"),
    (PROXY + "failures", "GET"),
    (PROXY + "failures", "PUT"),
    (PROXY + "clone", "POST"),
]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/proxies/62599903417482080157696/",
        "/api/v1/proxies/9223372036854775808/stop",
        "/api/v1/tokens/99999999999999999999/",
        "/api/v1/logs/?proxy=62599903417482080157696",
        "/api/v1/metrics/?proxy=9223372036854775808",
    ],
)
def test_an_id_too_large_for_the_database_is_refused_not_a_server_error(api, path):
    # found by the long run: DELETE /api/v1/logs/?proxy=62599903417482080157696 failed in SQLite with a 500
    answers = [api.generic(method, path) for method in ("GET", "POST", "DELETE")]
    assert {a.status_code for a in answers} <= {400, 404, 405} and all(
        a.json()["detail" if a.status_code != 400 else "proxy"] for a in answers
    )


def test_it_follows_one_users_objects_through_linked_calls_and_never_shows_them_to_another(fuzz):
    """Alice creates proxies and tokens and works on them with fuzzed inputs; after each call that reached one of
    her objects, Bob sends the very same request and must get 404; at the end of each chain, Bob's lists hold
    nothing of hers. Each chain starts from the same state (her auth token and first proxy), so a failure replays."""

    class AliceAndBob(RuleBasedStateMachine):
        proxies = Bundle("proxies")
        tokens = Bundle("tokens")

        def alice(self, case):
            response = fuzz.as_alice(case)
            fuzz.validate(case, response)
            if 200 <= response.status_code < 300 and case.path_parameters:
                fuzz.tally.probes += 1
                theirs = case.call(headers={"Authorization": fuzz.bob})
                assert theirs.status_code == 404, (case.method, case.formatted_path, theirs.status_code)
            return response

        @initialize(target=proxies)
        def alices_first_proxy(self):
            return fuzz.first_proxy

        @rule(target=proxies, mode=MODES, data=st.data())
        def create_a_proxy(self, mode, data):
            response = self.alice(data.draw(fuzz.schema["/api/v1/proxies/"]["POST"].as_strategy(mode)))
            return response.json()["id"] if response.status_code == 201 else multiple()

        @rule(proxy=proxies, call=st.sampled_from(ON_A_PROXY), mode=MODES, data=st.data())
        def work_on_a_proxy(self, proxy, call, mode, data):
            path, method = call
            self.alice(data.draw(fuzz.schema[path][method].as_strategy(mode, path_parameters={"id": proxy})))

        @rule(target=tokens, mode=MODES, data=st.data())
        def create_a_token(self, mode, data):
            response = self.alice(data.draw(fuzz.schema["/api/v1/tokens/"]["POST"].as_strategy(mode)))
            return response.json()["id"] if response.status_code == 201 else multiple()

        @rule(token=tokens, data=st.data())
        def revoke_a_token(self, token, data):
            operation = fuzz.schema["/api/v1/tokens/{id}/"]["DELETE"]
            self.alice(data.draw(operation.as_strategy(path_parameters={"id": token})))

        @rule(operation=st.sampled_from(sorted(ANY_TIME)), mode=MODES, data=st.data())
        def anything_else(self, operation, mode, data):
            path, method = operation
            self.alice(data.draw(fuzz.schema[path][method].as_strategy(mode)))

        def teardown(self):
            intruder_sees_nothing_of(fuzz)
            ApiToken.objects.filter(user=fuzz.alice_user).exclude(key_hash=hash_key(fuzz.alice[6:])).delete()
            Proxy.objects.filter(owner=fuzz.alice_user).exclude(pk=fuzz.first_proxy).delete()

    run_state_machine_as_test(AliceAndBob, settings=fuzz_settings(EXAMPLES or 15, stateful_step_count=12))

    print(fuzz.tally.report("linked calls"))
    assert fuzz.tally.probes > 0 and not any(s >= 500 for s in fuzz.tally.statuses)


# Operations on no object in particular, mixed into the chains (logs and settings change what others answer).
ANY_TIME = {
    ("/api/v1/proxies/", "GET"),
    ("/api/v1/tokens/", "GET"),
    ("/api/v1/logs/", "GET"),
    ("/api/v1/logs/", "DELETE"),
    ("/api/v1/logs/export", "GET"),
    ("/api/v1/metrics/", "GET"),
    ("/api/v1/me/", "PATCH"),
    ("/api/v1/settings/", "PUT"),
    ("/api/v1/apply", "POST"),
}


def intruder_sees_nothing_of(fuzz):
    """Bob's every list (proxies, tokens, logs, their export, metrics) holds nothing of Alice's."""
    from rest_framework.test import APIClient

    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=fuzz.bob)
    fuzz.first_proxy = alices(fuzz.alice_user)  # whatever Alice deleted meanwhile, she has one with entries again
    alices_proxies = set(Proxy.objects.filter(owner=fuzz.alice_user).values_list("id", flat=True))
    alices_tokens = set(ApiToken.objects.filter(user=fuzz.alice_user).values_list("id", flat=True))

    assert not {p["id"] for p in bob.get("/api/v1/proxies/").json()} & alices_proxies
    assert not {t["id"] for t in bob.get("/api/v1/tokens/").json()} & alices_tokens
    assert bob.get("/api/v1/logs/").json()["results"] == []
    assert json.loads(b"".join(bob.get("/api/v1/logs/export?format=json").streaming_content)) == []
    for proxy_id in alices_proxies:
        assert bob.get(f"/api/v1/logs/?proxy={proxy_id}").json()["results"] == []
        assert bob.get(f"/api/v1/metrics/?proxy={proxy_id}").status_code == 404
