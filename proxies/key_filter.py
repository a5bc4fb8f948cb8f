"""Which cache keys a proxy may have stored: a blocked Bloom filter over the keys' 64-bit hashes.

A cache row carries `key_hash`, 8 bytes of its sha256 key as a signed integer, indexed with its proxy; a lookup
that misses memory reads the row by that index on the db executor. The filter answers first, in memory and on the
proxy's loop, so a key never stored (most misses) costs no trip to the database (D93). It is bounded: it grows by
doubling as keys are added, up to MAX_WORDS (2 MiB), then stays that size while its false positives, each one
indexed read that finds nothing, grow with the keys.

Each key sets KEY_BITS bits of one 64-bit word (a blocked filter: a check is one word and one mask). The word is
chosen by the hash's low bits and the bits by its high ones, so a filter of any size can be rebuilt from the
hashes alone (the index covers them). It is written on the db thread only; the loops read it.
"""

from __future__ import annotations

import hashlib
from array import array

KEY_BITS = 5  # bits set per key, each from six bits of the hash's top 30
WORD_KEYS = 4  # keys per word before the filter doubles: 16 bits a key, ~0.5 % false positives
MIN_WORDS = 512  # 4 KiB: an empty proxy's filter
MAX_WORDS = 1 << 18  # 2 MiB: ~1 M keys at ~0.5 %, 2 M at ~3 %, then more


def key_hash(key: str) -> int:
    """The key's hash as stored in CacheEntry.key_hash: its first 8 bytes as a signed 64-bit integer (the key is a
    sha256 hex digest; any other text is hashed first)."""
    try:
        head = bytes.fromhex(key[:16]) if len(key) == 64 else None
    except ValueError:
        head = None
    if head is None:
        head = hashlib.sha256(key.encode()).digest()[:8]
    return int.from_bytes(head, "big", signed=True)


def mask_of(h: int) -> int:
    h = (h >> 34) & 0x3FFFFFFF  # the top 30 bits of the unsigned hash (sign bit included)
    return 1 << (h & 63) | 1 << (h >> 6 & 63) | 1 << (h >> 12 & 63) | 1 << (h >> 18 & 63) | 1 << (h >> 24 & 63)


def words_for(keys: int) -> int:
    """The filter size, in words, for this many keys: a power of two between MIN_WORDS and MAX_WORDS."""
    words = MIN_WORDS
    while words < MAX_WORDS and words * WORD_KEYS < keys:
        words *= 2
    return words


class KeyFilter:
    __slots__ = ("words", "last", "keys")

    def __init__(self, words: int = MIN_WORDS):
        self.words = array("Q", bytes(8 * words))
        self.last = words - 1
        self.keys = 0  # added so far (a key added twice counts twice)

    def add(self, h: int) -> None:
        self.words[h & self.last] |= mask_of(h)
        self.keys += 1

    def add_many(self, hashes) -> None:
        words, last = self.words, self.last
        n = 0
        for h in hashes:
            words[h & last] |= mask_of(h)
            n += 1
        self.keys += n

    def may_hold(self, h: int) -> bool:
        mask = mask_of(h)
        return self.words[h & self.last] & mask == mask

    @property
    def full(self) -> bool:
        """Whether it holds more keys than its size is meant for, and could still double."""
        return len(self.words) < MAX_WORDS and self.keys > len(self.words) * WORD_KEYS

    @property
    def nbytes(self) -> int:
        return len(self.words) * 8
