"""The durable cache table, written by the runner's db thread: rows found by an index on 8 bytes of their key's hash,
a fixed-size filter in memory saying which keys may be stored, nothing per key held in memory."""

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from providers.base import Usage
from proxies import key_filter
from proxies.cache import Cached, MemoryLRU, ProxyCache
from proxies.key_filter import KeyFilter, key_hash, words_for
from proxies.models import CacheEntry, Proxy
from proxies.store import ProxyStore
from tests.factories import ProxyFactory

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = (("content-type", "text/event-stream"), ("x-request-id", "req_1"))


def key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def answer(body: bytes) -> Cached:
    return Cached(200, HEADERS, body, None, None)


@pytest.fixture
def db_thread():
    """The runner's one db thread, for real."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="rubberduck-db")
    yield executor
    executor.submit(lambda: connection.close()).result()  # that thread's own connection
    executor.shutdown(wait=True)


def built(store: ProxyStore, db_thread) -> ProxyStore:
    store.build_filter(db_thread.submit)
    assert store.built.wait(10)
    db_thread.submit(lambda: None).result()  # its last chunk has returned
    return store


def test_it_an_entry_comes_back_as_it_was_stored(user):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id)
    stream = Cached(200, HEADERS, b"data: 1\n\ndata: 2\n\n", ((0.0, 9), (12.5, 9)), Usage("gpt-4o", 3, 4, 1, None))
    plain = Cached(201, (("content-type", "application/json"),), b'{"ok":true}', None, None)
    store.save({key("s"): stream, key("p"): plain})

    assert store.entry(key("s")) == stream
    assert store.entry(key("p")) == plain
    assert CacheEntry.objects.filter(chunks__isnull=True, usage__isnull=True).count() == 1  # SQL NULL, not JSON null
    assert CacheEntry.objects.get(key=key("s")).size == len(stream.body)
    assert CacheEntry.objects.get(key=key("s")).key_hash == key_hash(key("s"))


def test_it_keeps_each_proxys_rows_apart(user):
    proxy, other = ProxyFactory(owner=user), ProxyFactory(owner=user, name="other")
    store, other_store = ProxyStore(proxy.id), ProxyStore(other.id)
    store.save({key("a"): answer(b"a")})
    other_store.save({key("b"): answer(b"b"), key("a"): answer(b"other a")})

    assert store.entry(key("a")).body == b"a" and store.entry(key("b")) is None
    assert other_store.entry(key("a")).body == b"other a"


def test_it_replaces_an_answer_stored_again_in_place_keeps_its_hits_and_records_it_again(user):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id)
    store.save({key("k"): answer(b"old")})
    store.add_hits({key("k"): 3, key("never stored"): 5})
    first = CacheEntry.objects.get()
    assert first.last_hit_at is not None
    ProxyStore(proxy.id).save({key("k"): answer(b"new answer")})  # a restarted proxy, which knows no ids

    entry = CacheEntry.objects.get()
    assert (entry.id, bytes(entry.body), entry.size, entry.hits) == (first.id, b"new answer", 10, 3)
    assert entry.created_at >= first.created_at  # a refresh: recorded now


def test_it_stores_what_the_listing_shows_of_the_request_without_credentials(user):
    proxy = ProxyFactory(owner=user, provider="gemini")
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    details = ("POST", path, "alt=sse&key=AIza-secret", "gemini-2.5-flash", True)
    ProxyStore(proxy.id).save({key("k"): Cached(200, HEADERS, b"data: {}\n\n", ((0.0, 10),), None, details=details)})

    entry = CacheEntry.objects.get()
    assert (entry.method, entry.path, entry.model, entry.stream) == (
        "POST",
        path + "?alt=sse",
        "gemini-2.5-flash",
        True,
    )
    assert entry.last_hit_at is None


def test_it_serves_the_later_row_of_a_key_written_twice_by_two_runners(user):
    proxy = ProxyFactory(owner=user)
    first, second = ProxyStore(proxy.id), ProxyStore(proxy.id)
    first.save({key("k"): answer(b"first")})
    CacheEntry.objects.create(proxy=proxy, key=key("k"), key_hash=key_hash(key("k")), status=200, body=b"second")

    assert ProxyStore(proxy.id).entry(key("k")).body == b"second"
    second.save({key("k"): answer(b"third")})  # replaces the later one
    assert ProxyStore(proxy.id).entry(key("k")).body == b"third"


def test_it_tells_apart_two_keys_of_one_hash(user):
    proxy = ProxyFactory(owner=user)
    a, b = "a" * 16 + "0" * 48, "a" * 16 + "1" * 48
    assert key_hash(a) == key_hash(b)
    store = ProxyStore(proxy.id)
    store.save({a: answer(b"a")})
    assert store.entry(b) is None
    store.save({b: answer(b"b")})
    assert (store.entry(a).body, store.entry(b).body) == (b"a", b"b")


def test_it_drops_entries_of_a_proxy_deleted_meanwhile_quietly(user):
    proxy = ProxyFactory(owner=user)
    Proxy.objects.filter(id=proxy.id).delete()
    ProxyStore(proxy.id).save({key("k"): answer(b"x")})
    assert CacheEntry.objects.count() == 0


def test_it_hits_a_key_stored_in_the_database_but_evicted_from_memory(user, db_thread):
    proxy = ProxyFactory(owner=user)
    lru = MemoryLRU(answer(b"x" * 100).size)  # room for one entry
    cache = ProxyCache(proxy.id, lru, db_thread, built(ProxyStore(proxy.id), db_thread))

    async def store_two():
        cache.put(key("first"), answer(b"1" * 100))
        cache.put(key("second"), answer(b"2" * 100))  # pushes the first out of memory
        cache.store_pending()

    asyncio.run(store_two())
    db_thread.submit(lambda: None).result()  # the stores are written
    assert lru.get(proxy.id, key("first")) is None

    assert asyncio.run(cache.get(key("first"))).body == b"1" * 100
    assert lru.get(proxy.id, key("first")) is not None  # kept in memory again
    assert cache.take_hits() == {key("first"): 1}


def test_it_misses_a_key_never_stored_without_asking_the_database(user, db_thread):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id)
    store.save({key(f"stored {i}"): answer(b"x") for i in range(50)})
    cache = ProxyCache(proxy.id, MemoryLRU(1 << 20), db_thread, built(store, db_thread))

    never = [key(f"never {i}") for i in range(1000)]
    assert asyncio.run(cache.get(never[0])) is None
    assert sum(store.may_hold(k) for k in never) < 20  # a few false positives, each one indexed read
    assert all(store.may_hold(key(f"stored {i}")) for i in range(50))
    assert all(store.entry(k) is None for k in never if store.may_hold(k))


def test_it_serves_stored_keys_after_a_restart_before_and_after_its_filter_is_built(user, db_thread):
    proxy = ProxyFactory(owner=user)
    ProxyStore(proxy.id).save({key(f"k{i}"): answer(f"answer {i}".encode()) for i in range(100)})

    store = ProxyStore(proxy.id)  # as a start makes it: nothing read yet
    cache = ProxyCache(proxy.id, MemoryLRU(1 << 20), db_thread, store)
    assert asyncio.run(cache.get(key("k7"))).body == b"answer 7"  # no filter yet: every key may be stored
    built(store, db_thread)
    assert store.filter.keys == 100
    assert asyncio.run(cache.get(key("k42"))).body == b"answer 42"
    assert asyncio.run(cache.get(key("k100"))) is None


def test_it_leaves_nothing_after_a_clear(user, db_thread):
    proxy, other = ProxyFactory(owner=user), ProxyFactory(owner=user, name="other")
    lru = MemoryLRU(1 << 20)
    store = built(ProxyStore(proxy.id), db_thread)
    cache = ProxyCache(proxy.id, lru, db_thread, store)
    ProxyStore(other.id).save({key("k"): answer(b"other's")})

    async def store_some():
        for i in range(20):
            cache.put(key(f"k{i}"), answer(b"x"))
        cache.store_pending()

    asyncio.run(store_some())
    assert db_thread.submit(cache.clear).result() == 20

    assert CacheEntry.objects.filter(proxy_id=proxy.id).count() == 0
    assert not any(store.may_hold(key(f"k{i}")) for i in range(20))
    assert all(asyncio.run(cache.get(key(f"k{i}"))) is None for i in range(20))
    assert lru.bytes == 0
    assert ProxyStore(other.id).entry(key("k")).body == b"other's"


def test_it_grows_its_filter_as_keys_are_stored_and_keeps_every_one(user, db_thread, monkeypatch):
    monkeypatch.setattr(key_filter, "MIN_WORDS", 8)  # 32 keys before it doubles
    monkeypatch.setattr("proxies.store.FILTER_CHUNK", 50)  # several chunks a build
    proxy = ProxyFactory(owner=user)
    store = built(ProxyStore(proxy.id), db_thread)
    assert len(store.filter.words) == 8

    for batch in range(10):
        entries = {key(f"k{batch}-{i}"): answer(b"x") for i in range(30)}
        db_thread.submit(store.save, entries, db_thread.submit).result()
    db_thread.submit(lambda: None).result()
    db_thread.submit(lambda: None).result()

    assert len(store.filter.words) >= 32  # doubled at least twice, sized from its rows each time
    assert all(store.may_hold(key(f"k{b}-{i}")) for b in range(10) for i in range(30))


def test_it_drops_a_filter_whose_build_a_clear_overtook(user, db_thread):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id)
    store.save({key("old"): answer(b"x")})
    gate = db_thread.submit(store.clear)  # queued before the build's first job
    store.build_filter(db_thread.submit)
    gate.result()
    db_thread.submit(store.save, {key("new"): answer(b"y")}).result()
    db_thread.submit(lambda: None).result()

    assert store.may_hold(key("new")) and store.entry(key("new")).body == b"y"
    assert store.entry(key("old")) is None


def test_it_serves_entries_imported_or_deleted_behind_it_once_reloaded(user, db_thread):
    proxy = ProxyFactory(owner=user)
    store = ProxyStore(proxy.id)
    store.save({key("kept"): answer(b"kept"), key("deleted"): answer(b"deleted")})
    cache = ProxyCache(proxy.id, MemoryLRU(1 << 20), db_thread, built(store, db_thread))
    assert asyncio.run(cache.get(key("deleted"))).body == b"deleted"  # now also in memory
    CacheEntry.objects.filter(key=key("deleted")).delete()
    ProxyStore(proxy.id).save({key("imported"): answer(b"imported")})  # written behind the running proxy

    db_thread.submit(cache.reload).result()
    assert asyncio.run(cache.get(key("imported"))).body == b"imported"
    assert asyncio.run(cache.get(key("deleted"))) is None
    assert store.built.wait(10) and store.may_hold(key("imported"))


def test_it_sizes_the_filter_within_its_bounds():
    assert words_for(0) == key_filter.MIN_WORDS
    assert words_for(10**9) == key_filter.MAX_WORDS
    f = KeyFilter(words_for(1000))
    hashes = [key_hash(key(str(i))) for i in range(1000)]
    f.add_many(hashes)
    assert all(map(f.may_hold, hashes)) and not f.full
    assert key_hash("not a sha256") == key_hash("not a sha256")  # any text has one


def test_it_indexes_the_key_hash_and_never_the_key():
    """An index on random sha256 text made each stored entry cost ~4.5x as much (D19); 8 bytes of it cost far
    less (D92)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, CacheEntry._meta.db_table)
    indexed = [c["columns"] for c in constraints.values() if c["index"] or c["unique"]]
    assert ["proxy_id", "key_hash"] in indexed
    assert not [columns for columns in indexed if "key" in columns]
