"""The durable cache table, written by the runner's db thread: rows found by id, never by an index on the key."""

import pytest
from django.db import connection

from providers.base import Usage
from proxies.cache import Cached
from proxies.models import CacheEntry, Proxy
from proxies.store import ProxyStore
from tests.factories import ProxyFactory

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = (("content-type", "text/event-stream"), ("x-request-id", "req_1"))


def test_an_entry_comes_back_as_it_was_stored(user):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id, {})
    stream = Cached(200, HEADERS, b"data: 1\n\ndata: 2\n\n", ((0.0, 9), (12.5, 9)), Usage("gpt-4o", 3, 4, 1, None))
    plain = Cached(201, (("content-type", "application/json"),), b'{"ok":true}', None, None)
    store.save({"s" * 64: stream, "p" * 64: plain})

    assert store.ids == {e.key: e.id for e in CacheEntry.objects.all()} and len(store.ids) == 2
    assert store.entry("s" * 64, store.ids["s" * 64]) == stream
    assert store.entry("p" * 64, store.ids["p" * 64]) == plain
    assert CacheEntry.objects.filter(chunks__isnull=True, usage__isnull=True).count() == 1  # SQL NULL, not JSON null
    assert CacheEntry.objects.get(key="s" * 64).size == len(stream.body)
    assert ProxyStore.load(proxy.id).ids == store.ids


def test_each_batch_learns_the_ids_of_its_own_new_rows_only(user):
    proxy, other = ProxyFactory(owner=user), ProxyFactory(owner=user, name="other")
    store, other_store = ProxyStore(proxy.id, {}), ProxyStore(other.id, {})
    store.save({"a" * 64: Cached(200, HEADERS, b"a", None, None)})
    other_store.save({"b" * 64: Cached(200, HEADERS, b"b", None, None)})
    store.save({"c" * 64: Cached(200, HEADERS, b"c", None, None)})

    assert sorted(store.ids) == ["a" * 64, "c" * 64] and list(other_store.ids) == ["b" * 64]
    assert store.last == store.ids["c" * 64] > other_store.ids["b" * 64] > store.ids["a" * 64]


def test_storing_a_key_again_replaces_the_answer_in_place_keeps_its_hits_and_records_it_again(user):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id, {})
    store.save({"k" * 64: Cached(200, HEADERS, b"old", None, None)})
    store.add_hits({"k" * 64: 3, "never stored": 5})
    first = CacheEntry.objects.get()
    assert first.last_hit_at is not None
    store.save({"k" * 64: Cached(200, HEADERS, b"new answer", None, None)})

    entry = CacheEntry.objects.get()
    assert (entry.id, bytes(entry.body), entry.size, entry.hits) == (first.id, b"new answer", 10, 3)
    assert entry.created_at >= first.created_at  # a refresh: recorded now


def test_it_stores_what_the_listing_shows_of_the_request_without_credentials(user):
    proxy = ProxyFactory(owner=user, provider="gemini")
    store = ProxyStore(proxy.id, {})
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    details = ("POST", path, "alt=sse&key=AIza-secret", "gemini-2.5-flash", True)
    store.save({"k" * 64: Cached(200, HEADERS, b"data: {}\n\n", ((0.0, 10),), None, details=details)})

    entry = CacheEntry.objects.get()
    assert (entry.method, entry.path, entry.model, entry.stream) == (
        "POST",
        path + "?alt=sse",
        "gemini-2.5-flash",
        True,
    )
    assert entry.last_hit_at is None


def test_a_row_deleted_meanwhile_is_forgotten_when_looked_up(user):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id, {})
    store.save({"k" * 64: Cached(200, HEADERS, b"x", None, None)})
    CacheEntry.objects.all().delete()

    assert store.entry("k" * 64, store.ids["k" * 64]) is None
    assert store.ids == {}


def test_a_key_written_twice_by_two_runners_loads_as_its_later_row(user):
    proxy = ProxyFactory(owner=user)
    ProxyStore(proxy.id, {}).save({"k" * 64: Cached(200, HEADERS, b"first", None, None)})
    ProxyStore(proxy.id, {}).save({"k" * 64: Cached(200, HEADERS, b"second", None, None)})

    store = ProxyStore.load(proxy.id)
    assert store.entry("k" * 64, store.ids["k" * 64]).body == b"second"


def test_entries_of_a_proxy_deleted_meanwhile_are_dropped_quietly(user):
    proxy = ProxyFactory(owner=user)
    Proxy.objects.filter(id=proxy.id).delete()
    store = ProxyStore(proxy.id, {})
    store.save({"k" * 64: Cached(200, HEADERS, b"x", None, None)})
    assert CacheEntry.objects.count() == 0 and store.ids == {}


def test_no_index_of_the_cache_table_holds_the_key():
    """An index on random sha256 keys made each stored entry cost ~4.5x as much (proxies/store.py, ProxyStore)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, CacheEntry._meta.db_table)
    indexed = [c["columns"] for c in constraints.values() if c["index"] or c["unique"]]
    assert ["proxy_id", "id"] in indexed
    assert not [columns for columns in indexed if "key" in columns]
