"""Runs a Python script (`manage.py serve`) with a thread that watches where its memory goes: a bench debug tool.

    python bench/memtrace.py OUT_DIR START_S EVERY_S manage.py serve --port N

After START_S seconds it starts tracemalloc (so only what is allocated from then on is traced, after the warm-up),
then every EVERY_S seconds writes OUT_DIR/NNN.txt: the traced total, the biggest growths since the start grouped
by line and by traceback, and the object-type counts that grew (gc.get_objects()). Not part of the product.

MEMTRACE_FRAMES=0: no tracing (the server runs at its own speed); every EVERY_S seconds one line in
OUT_DIR/counts.txt: RSS, glibc's heap (in use / free inside it), pymalloc's arenas, the stores' key tables, the
LRU. MEMTRACE_TRIM=1 also calls malloc_trim(0) after each line and says what RSS came back (retained, not held).
"""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import re
import runpy
import sys
import tempfile
import threading
import time
import tracemalloc


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def type_counts() -> collections.Counter:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def pymalloc() -> str:
    """Python's own allocator: arenas held (each 1 MiB) and the bytes in used and in free blocks, from
    sys._debugmallocstats (which writes to C stderr: borrowed for the call)."""
    with tempfile.TemporaryFile("w+") as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        stats = dict(re.findall(r"^# ?(.+?)\s+=\s+([\d,]+)$", f.read(), re.M))
    mib = lambda name: int(stats.get(name, "0").replace(",", "")) / 2**20  # noqa: E731
    arenas = int(stats.get("arenas allocated current", "0").replace(",", ""))
    used, free = mib("bytes in allocated blocks"), mib("bytes in available blocks")
    return (f"pymalloc arenas {arenas} MiB (used blocks {used:.1f} MiB, free blocks {free:.1f} MiB, "
            f"empty pools and overhead {arenas - used - free:.1f} MiB)")  # fmt: skip


def counts() -> str:
    """One line: RSS, glibc's heap (in use, free inside it, mmapped), Python's blocks, and the data plane's tables."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    m = libc.mallinfo2()
    from proxies import runner as runners

    runner = runners._local
    ids = sum(len(r.server.app.cache.store.ids) for r in list(runner.running.values())) if runner else -1
    lru = (len(runner.lru._entries), runner.lru.bytes) if runner else (-1, -1)
    limiters = len(runner.limiters) if runner else -1
    return (f"{time.time():.0f} rss {rss_mib():.1f} MiB; malloc heap {m.arena / 2**20:.1f} MiB (in use "
            f"{m.uordblks / 2**20:.1f}, free {m.fordblks / 2**20:.1f}), mmapped {m.hblkhd / 2**20:.1f} MiB; "
            f"python blocks {sys.getallocatedblocks()}; store ids {ids}; lru {lru[0]} entries {lru[1] / 2**20:.1f} MiB; "
            f"limiters {limiters}; threads {threading.active_count()}; {pymalloc()}")  # fmt: skip


def watch(out: str, start: float, every: float) -> None:
    time.sleep(start)
    if os.environ.get("MEMTRACE_FRAMES") == "0":  # counts only, no tracing: the server runs at its own speed
        with open(os.path.join(out, "counts.txt"), "a") as f:
            while True:
                f.write(counts() + "\n")
                if os.environ.get("MEMTRACE_TRIM"):  # what glibc gives back when asked: retained, not leaked
                    ctypes.CDLL("libc.so.6").malloc_trim(0)
                    f.write(f"  after malloc_trim(0): rss {rss_mib():.1f} MiB\n")
                f.flush()
                time.sleep(every)
    tracemalloc.start(int(os.environ.get("MEMTRACE_FRAMES", "12")))
    base = previous = tracemalloc.take_snapshot()
    types0 = type_counts()
    rss0 = rss_mib()
    n = 0
    while True:
        time.sleep(every)
        n += 1
        snap = tracemalloc.take_snapshot()
        types = type_counts()
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"t+{n * every:.0f}s rss {rss0:.1f} -> {rss_mib():.1f} MiB; traced {current / 2**20:.1f} MiB"]
        lines.append("\n== by line (growth since start)")
        for stat in snap.compare_to(base, "lineno")[:30]:
            lines.append(str(stat))
        lines.append("\n== by line (growth since the previous report)")
        lines.extend(str(stat) for stat in snap.compare_to(previous, "lineno")[:20])
        previous = snap
        lines.append("\n== by traceback (top 12)")
        for stat in snap.compare_to(base, "traceback")[:12]:
            lines.append(f"{stat.size_diff / 1024:.1f} KiB in {stat.count_diff} blocks")
            lines.extend("    " + frame for frame in stat.traceback.format()[-24:])
        lines.append("\n== object types that grew")
        grown = sorted(((types[k] - types0.get(k, 0), k) for k in types), reverse=True)[:30]
        lines.extend(f"{d:+9d} {k} ({types[k]})" for d, k in grown if d > 0)
        with open(os.path.join(out, f"{n:03d}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        del types


def main() -> None:
    out, start, every, script, *args = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    threading.Thread(target=watch, args=(out, float(start), float(every)), daemon=True, name="memtrace").start()
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as if the script ran itself
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
