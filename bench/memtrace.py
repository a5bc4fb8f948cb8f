"""Runs a Python script (`manage.py serve`) with a thread that watches where its memory goes: a bench debug tool.

    python bench/memtrace.py OUT_DIR START_S EVERY_S manage.py serve --port N

After START_S seconds it starts tracemalloc (so only what is allocated from then on is traced, after the warm-up),
then every EVERY_S seconds writes OUT_DIR/NNN.txt: the traced total, the biggest growths since the start grouped
by line and by traceback, and the object-type counts that grew (gc.get_objects()). Not part of the product.
"""

from __future__ import annotations

import collections
import gc
import os
import runpy
import sys
import threading
import time
import tracemalloc


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def type_counts() -> collections.Counter:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def watch(out: str, start: float, every: float) -> None:
    time.sleep(start)
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
