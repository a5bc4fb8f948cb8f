"""The process-wide memory LRU: entries come back as they were put, and the byte bound holds."""

from providers.base import Usage
from proxies.cache import Cached, MemoryLRU

HEADERS = (("content-type", "application/json"),)


def entry(body: bytes, usage: Usage | None = None) -> Cached:
    return Cached(200, HEADERS, body, None, usage)


def test_an_entry_comes_back_as_it_was_put():
    lru = MemoryLRU(1 << 20)
    stream = Cached(200, HEADERS, b"data: 1\n\n", ((0.0, 9),), Usage("gpt-4o", 3, 4, 1, None), ((b"a", b"b"),))
    lru.put(1, "s", stream)
    lru.put(1, "p", entry(b"{}"))

    assert lru.get(1, "s") == stream
    assert lru.get(1, "p") == entry(b"{}")
    assert lru.get(2, "s") is None  # keyed per proxy


def test_it_evicts_the_least_recently_used_entries_beyond_its_byte_bound():
    one = entry(b"x" * 1000)
    lru = MemoryLRU(3 * one.size)
    for key in "abc":
        lru.put(1, key, entry(b"x" * 1000))
    assert lru.get(1, "a") is not None  # now the most recently used
    lru.put(1, "d", entry(b"x" * 1000))

    assert [k for k in "abcd" if lru.get(1, k) is not None] == ["a", "c", "d"]
    assert lru.bytes == 3 * one.size
    lru.clear(1)
    assert lru.bytes == 0 and lru.get(1, "a") is None
    assert lru._thawed == {}  # "a" was hit, and kept thawed, before


def test_an_entry_stored_again_answers_anew_though_the_old_one_was_hit():
    lru = MemoryLRU(1 << 20)
    lru.put(1, "k", entry(b"old"))
    assert lru.get(1, "k").body == b"old"  # now also kept thawed

    lru.put(1, "k", entry(b"new"))
    assert lru.get(1, "k").body == b"new"


def test_an_entry_hit_and_then_evicted_is_gone():
    one = entry(b"x" * 1000)
    lru = MemoryLRU(2 * one.size)
    for key in "ab":
        lru.put(1, key, entry(b"x" * 1000))
        assert lru.get(1, key) is not None
    lru.put(1, "c", entry(b"x" * 1000))

    assert lru.get(1, "a") is None
    assert lru.get(1, "b") is not None
    assert set(lru._thawed) <= set(lru._entries)  # no body outlives the byte bound


def test_only_the_entries_last_hit_are_kept_thawed():
    from proxies.cache import THAWED_ENTRIES

    lru = MemoryLRU(1 << 24)
    for i in range(THAWED_ENTRIES + 10):
        lru.put(1, str(i), entry(b"{}"))
        lru.get(1, str(i))
    assert len(lru._thawed) == THAWED_ENTRIES
    assert (1, "0") not in lru._thawed and (1, str(THAWED_ENTRIES + 9)) in lru._thawed
    assert lru.get(1, "0") == entry(b"{}")  # thawed again on its next hit
