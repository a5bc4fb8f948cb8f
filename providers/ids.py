"""Ids for answers the proxy makes up itself (cache replays, simulated errors): unique, never secret.

They come from `random`, not `secrets`: os.urandom is a getrandom syscall per call, which was ~8 % of a cache
hit's time (20 calls per Anthropic id). The generator is seeded from the OS once per process.
"""

from __future__ import annotations

import random
import uuid

_random = random.Random()


def hex_id(nbytes: int) -> str:
    return f"{_random.getrandbits(nbytes * 8):0{nbytes * 2}x}"


def uuid4() -> str:
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


def chars_id(alphabet: str, length: int) -> str:
    return "".join(_random.choices(alphabet, k=length))
