"""Ids for answers the proxy makes up itself (cache replays, simulated errors): unique, never secret.

They come from `random`, not `secrets` (a getrandom syscall per call), seeded from the OS once per process, each
id one draw of random bits turned into text in C (D9).
"""

from __future__ import annotations

import functools
import random

_random = random.Random()


def hex_id(nbytes: int) -> str:
    return _random_bytes(nbytes).hex()


def uuid4() -> str:
    """A random (version 4) UUID in its standard text form, as str(uuid.uuid4()) gives it."""
    n = _random.getrandbits(128) & ~(0xF000 << 64 | 0xC000 << 48) | (0x4000 << 64 | 0x8000 << 48)  # version, variant
    h = n.to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def chars_id(alphabet: str, length: int) -> str:
    """`length` characters of `alphabet`, each from one random byte (those of an alphabet whose size does not divide
    256 are very slightly uneven: no matter for an id of ~120 bits)."""
    return _random_bytes(length).translate(_byte_table(alphabet)).decode("ascii")


def _random_bytes(n: int) -> bytes:
    return _random.getrandbits(n * 8).to_bytes(n, "big")  # what Random.randbytes does, without its Python frame


@functools.cache
def _byte_table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))
