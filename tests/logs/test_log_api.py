"""GET /api/v1/logs/: owner-scoped, filtered, newest first, keyset-paginated."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from logs.models import LogEntry
from tests.factories import LogRecordFactory, ProxyFactory, write_logs

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CONTRACT = {"id", "timestamp", "proxy", "ip", "method", "path", "prompt_hash", "status_code", "latency_ms", "cache",
            "failure", "prompt_tokens", "completion_tokens", "cost_usd"}  # fmt: skip


@pytest.fixture
def mine(user):
    return ProxyFactory(owner=user, name="mine")


@pytest.fixture
def theirs(other_user):
    return ProxyFactory(owner=other_user, name="theirs")


def test_it_lists_only_the_users_entries_newest_first_with_exactly_the_contract_fields(api, mine, theirs):
    write_logs(
        LogRecordFactory(proxy=mine, at=T0, ip="10.0.0.1"),
        LogRecordFactory(proxy=theirs, at=T0 + timedelta(seconds=1)),
        LogRecordFactory(
            proxy=mine, at=T0 + timedelta(seconds=2), status_code=429, failure="rate_limit", cache="bypass"
        ),
    )

    body = api.get("/api/v1/logs/").json()

    assert body["count"] == 2 and body["next"] is None
    newest, oldest = body["results"]
    assert set(newest) - {"model", "client_messages", "upstream_messages"} == CONTRACT  # extended, never renamed
    assert newest == {
        "id": newest["id"], "timestamp": "2026-03-01T12:00:02.000000Z", "proxy": mine.id, "ip": "127.0.0.1",
        "method": "POST", "path": "/v1/chat/completions", "prompt_hash": "", "status_code": 429, "latency_ms": 12.5,
        "cache": "bypass", "failure": "rate_limit", "model": "", "prompt_tokens": None, "completion_tokens": None,
        "cost_usd": None, "client_messages": None, "upstream_messages": None,
    }  # fmt: skip
    assert oldest["ip"] == "10.0.0.1" and oldest["id"] < newest["id"]


def test_it_filters_by_proxy_status_cache_failure_ip_and_time(api, user, mine):
    second = ProxyFactory(owner=user, name="second")
    write_logs(
        LogRecordFactory(proxy=mine, at=T0, cache="hit"),
        LogRecordFactory(proxy=mine, at=T0 + timedelta(minutes=1), status_code=500, failure="error"),
        LogRecordFactory(proxy=second, at=T0 + timedelta(minutes=2), ip="192.168.1.9"),
        LogRecordFactory(proxy=second, at=T0 + timedelta(minutes=3), status_code=429, failure="rate_limit"),
    )

    def ids(**query):
        return [e["timestamp"][11:16] for e in api.get("/api/v1/logs/", query).json()["results"]]

    assert ids(proxy=second.id) == ["12:03", "12:02"]
    assert ids(status=500) == ["12:01"]
    assert ids(status="4xx") == ["12:03"]
    assert ids(cache="hit") == ["12:00"]
    assert ids(failure="rate_limit") == ["12:03"]
    assert ids(failure="none") == ["12:02", "12:00"]
    assert ids(ip="192.168.1.9") == ["12:02"]
    assert ids(since="2026-03-01T12:01:00Z", until="2026-03-01T12:03:00Z") == ["12:02", "12:01"]
    assert ids(since="2026-03-01T13:01:00+01:00") == ["12:03", "12:02", "12:01"]  # offsets honoured


def test_it_answers_400_to_a_bad_filter(api, mine):
    assert api.get("/api/v1/logs/", {"since": "yesterday"}).status_code == 400
    assert api.get("/api/v1/logs/", {"cache": "warm"}).status_code == 400
    assert api.get("/api/v1/logs/", {"cursor": "garbage!"}).status_code == 400


def test_a_page_boundary_holds_when_entries_arrive_between_pages(api, mine):
    # Several entries share a timestamp, so an offset-on-timestamp cursor would shift; the keyset does not.
    write_logs(*[LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=i // 2)) for i in range(10)])
    first = api.get("/api/v1/logs/", {"page_size": 4}).json()

    write_logs(
        LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=10)),  # newer than everything: belongs before page 1
        LogRecordFactory(
            proxy=mine, at=T0 + timedelta(seconds=3)
        ),  # same timestamp as entries of page 1 and 2, newer id
    )
    pages, url = [first["results"]], first["next"]
    while url:
        page = api.get(url).json()
        pages.append(page["results"])
        url = page["next"]

    seen = [e["id"] for page in pages for e in page]
    before = list(LogEntry.objects.filter(id__lte=max(e["id"] for e in first["results"])).values_list("id", flat=True))
    assert len(seen) == len(set(seen)), "an entry was served twice"
    assert set(before) <= set(seen), "an entry that existed at page 1 was skipped"
    keys = [(e["timestamp"], e["id"]) for page in pages for e in page]
    assert keys == sorted(keys, reverse=True)
    assert [len(p) for p in pages] == [4, 4, 2]


def test_the_next_pages_carry_the_first_pages_count_instead_of_counting_again(api, mine):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    write_logs(*[LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=i)) for i in range(5)])
    first = api.get("/api/v1/logs/", {"page_size": 2, "cache": "miss"}).json()
    write_logs(
        LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=10))
    )  # written after page 1: on a new first page, not in its count

    with CaptureQueriesContext(connection) as queries:
        second = api.get(first["next"]).json()
    assert first["count"] == second["count"] == 5
    assert [e["timestamp"][17:19] for e in second["results"]] == ["02", "01"]
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()], "page 2 counted the entries again"
    assert api.get("/api/v1/logs/", {"page_size": 2}).json()["count"] == 6


def test_a_next_page_reads_the_database_three_times_token_proxies_page(api, mine):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    write_logs(*[LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=i)) for i in range(3)])
    LogEntry.objects.update(cost_usd=Decimal("0.00012345"))
    first = api.get("/api/v1/logs/", {"page_size": 2}).json()  # the token's last use is written here, once

    with CaptureQueriesContext(connection) as queries:
        second = api.get(first["next"]).json()
    assert len(queries) == 3, [q["sql"] for q in queries]
    assert [e["cost_usd"] for e in second["results"]] == [0.00012345]
    assert second["results"][0]["timestamp"] == "2026-03-01T12:00:00.000000Z"


def test_a_cursor_from_before_cursors_carried_the_count_still_pages_and_counts(api, mine):
    import base64

    write_logs(*[LogRecordFactory(proxy=mine, at=T0 + timedelta(seconds=i)) for i in range(3)])
    newest = LogEntry.objects.order_by("-timestamp", "-id").first()
    old_cursor = base64.urlsafe_b64encode(f"{newest.timestamp.isoformat()}|{newest.id}".encode()).decode()
    page = api.get("/api/v1/logs/", {"cursor": old_cursor}).json()
    assert page["count"] == 3 and len(page["results"]) == 2
    for forged in (f"{newest.timestamp.isoformat()}|{newest.id}|-1", f"{newest.timestamp.isoformat()}|1|2|3"):
        cursor = base64.urlsafe_b64encode(forged.encode()).decode()
        assert api.get("/api/v1/logs/", {"cursor": cursor}).status_code == 400


def sqlite_steps(work) -> int:
    """Hundreds of SQLite virtual-machine steps to read a queryset (or run a callable): the work the queries did,
    without a clock."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("counts SQLite's virtual-machine steps")
    steps = 0

    def tick():
        nonlocal steps
        steps += 1
        return 0  # go on

    connection.ensure_connection()
    connection.connection.set_progress_handler(tick, 100)
    try:
        work() if callable(work) else list(work)
    finally:
        connection.connection.set_progress_handler(None, 100)
    return steps


def test_a_later_page_reads_about_its_own_rows_however_many_older_entries_there_are(user, mine):
    from logs.raw import page
    from logs.selectors import matching

    other = ProxyFactory(owner=user, name="other")  # the owner-wide list merges proxies
    write_logs(
        *[LogRecordFactory(proxy=(mine, other)[i % 2], at=T0 + timedelta(hours=1, seconds=i)) for i in range(200)]
    )
    newest = list(LogEntry.objects.order_by("-timestamp", "-id")[:51])[-1]

    def page_two_steps() -> dict:
        after = (newest.timestamp, newest.id)
        lists = {"owner": {}, "proxy": {"proxy": mine.id}}
        return {
            name: sqlite_steps(lambda f=filters: page(matching(owner=user, filters=f, after=after), 51))
            for name, filters in lists.items()
        }

    few_older = page_two_steps()
    write_logs(
        *[LogRecordFactory(proxy=(mine, other)[i % 2], at=T0 + timedelta(seconds=i / 1000)) for i in range(3000)]
    )  # all older
    many_older = page_two_steps()
    for name in few_older:
        assert many_older[name] <= 1.5 * few_older[name] + 10, (name, few_older, many_older)


def test_it_requires_authentication(client):
    assert client.get("/api/v1/logs/").status_code in (401, 403)
