"""The durable cache table, written by the runner's db thread with one raw upsert per batch."""

import pytest

from providers.base import Usage
from proxies import store
from proxies.cache import Cached
from proxies.models import CacheEntry, Proxy
from tests.logs.factories import proxy_for

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = (("content-type", "text/event-stream"), ("x-request-id", "req_1"))


def test_an_entry_comes_back_as_it_was_stored(user):
    proxy = proxy_for(user)
    stream = Cached(200, HEADERS, b"data: 1\n\ndata: 2\n\n", ((0.0, 9), (12.5, 9)), Usage("gpt-4o", 3, 4, 1, None))
    plain = Cached(201, (("content-type", "application/json"),), b'{"ok":true}', None, None)
    store.save_entries(proxy.id, {"s" * 64: stream, "p" * 64: plain})

    assert store.load_entry(proxy.id, "s" * 64) == stream
    assert store.load_entry(proxy.id, "p" * 64) == plain
    assert CacheEntry.objects.filter(chunks__isnull=True, usage__isnull=True).count() == 1  # SQL NULL, not JSON null
    assert CacheEntry.objects.get(key="s" * 64).size == len(stream.body)
    assert store.known_keys(proxy.id) == {"s" * 64, "p" * 64}


def test_storing_a_key_again_replaces_the_answer_and_keeps_its_hits_and_age(user):
    proxy = proxy_for(user)
    store.save_entries(proxy.id, {"k" * 64: Cached(200, HEADERS, b"old", None, None)})
    store.add_hits(proxy.id, {"k" * 64: 3})
    first = CacheEntry.objects.get()
    store.save_entries(proxy.id, {"k" * 64: Cached(200, HEADERS, b"new answer", None, None)})

    entry = CacheEntry.objects.get()
    assert (bytes(entry.body), entry.size, entry.hits, entry.created_at) == (b"new answer", 10, 3, first.created_at)


def test_entries_of_a_proxy_deleted_meanwhile_are_dropped_quietly(user):
    proxy = proxy_for(user)
    Proxy.objects.filter(id=proxy.id).delete()
    store.save_entries(proxy.id, {"k" * 64: Cached(200, HEADERS, b"x", None, None)})
    assert CacheEntry.objects.count() == 0
