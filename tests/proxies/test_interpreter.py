"""The interpreter settings of a proxy process: configure_process() (the GC policy, the switch interval), applied
by the entry points and never by a runner, and busy proxy loops taking turns."""

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from proxies.interpreter import AUTOMATIC_FULL_OFF, YOUNG_THRESHOLD, TakeTurns, configure_process
from rubberduck_site.dataplane import build_runner
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def interpreter_restored():
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    started = []
    yield started
    for collections in started:
        collections.stop()
    gc.set_threshold(*thresholds)
    sys.setswitchinterval(interval)
    gc.unfreeze()


def test_it_makes_young_collections_wait_for_more_objects_and_runs_full_ones_from_its_own_thread(
    interpreter_restored,
):
    gc.set_threshold(700, 10, 10)
    full = []
    gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2 and full.append(1))
    try:
        collections = configure_process(0.002, full_gc_seconds=0.05)
        interpreter_restored.append(collections)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, AUTOMATIC_FULL_OFF)
        assert sys.getswitchinterval() == pytest.approx(0.002)
        assert gc.get_freeze_count() > 0
        full.clear()
        wait_until(lambda: len(full) >= 2)  # the thread's collections, one every 0.05 s
        assert collections.is_alive() and collections.name == "rubberduck-full-gc"
    finally:
        gc.callbacks.pop()


def test_it_takes_the_switch_interval_and_full_gc_seconds_from_the_settings(interpreter_restored, settings):
    settings.RUBBERDUCK_SWITCH_INTERVAL, settings.RUBBERDUCK_FULL_GC_SECONDS = 0.004, 60
    interpreter_restored.append(configure_process())
    assert sys.getswitchinterval() == pytest.approx(0.004)
    assert gc.get_threshold()[2] == AUTOMATIC_FULL_OFF


def test_full_gc_seconds_0_keeps_cpythons_own_collection_policy(interpreter_restored):
    gc.set_threshold(700, 10, 10)
    assert configure_process(0.005, full_gc_seconds=0) is None
    assert gc.get_threshold() == (700, 10, 10)


def test_it_is_not_applied_by_constructing_or_starting_a_runner(transactional_db):
    before = gc.get_threshold(), sys.getswitchinterval(), gc.get_freeze_count()
    runner = build_runner()
    runner.start(embedded=True)
    try:
        assert (gc.get_threshold(), sys.getswitchinterval(), gc.get_freeze_count()) == before
        assert "rubberduck-full-gc" not in {t.name for t in threading.enumerate()}
    finally:
        runner.shutdown("force")
    assert (gc.get_threshold(), sys.getswitchinterval()) == before[:2]


@pytest.fixture
def yields(monkeypatch):
    calls = []
    real = os.sched_yield
    monkeypatch.setattr(os, "sched_yield", lambda: calls.append(time.monotonic()) or real())
    return calls


async def next_iteration():
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_a_loop_yields_once_after_an_iteration_of_answers_and_again_only_a_turn_later(yields):
    async def scenario():
        turns = TakeTurns(asyncio.get_running_loop(), 0.05)
        turns.due = 0  # the first turn is over
        for _ in range(100):  # many answers in one iteration
            turns.answered()
        await next_iteration()
        assert len(yields) == 1
        turns.answered()
        await next_iteration()
        assert len(yields) == 1  # within the turn
        await asyncio.sleep(0.06)
        turns.answered()
        await next_iteration()
        assert len(yields) == 2

    asyncio.run(scenario())


def test_an_idle_loop_never_yields(yields):
    async def scenario():
        idle = TakeTurns(asyncio.get_running_loop(), 0.001)
        await asyncio.sleep(0.01)
        assert yields == []
        assert idle.scheduled is False

    asyncio.run(scenario())


def test_the_full_collection_thread_gives_freed_heap_back_to_the_system():
    """Churn leaves free pages inside glibc's heap (resident, unused) that only malloc_trim returns: the soak's RSS
    climbed without it. Measured in a child process of its own, so nothing else in the heap counts."""
    child = subprocess.run(
        [sys.executable, "-c", TRIM_CHILD], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "rubberduck_site.settings"},
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    before, after = map(int, child.stdout.split())
    assert before - after > 100 * 1024 * 1024, (before, after)


TRIM_CHILD = """
import time
from proxies.interpreter import FullCollections

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

kept = []
churn = [bytes(1000) + bytes([i % 251]) for i in range(300_000)]  # ~300 MB of malloc'd (not pymalloc) blocks
kept = churn[::200]  # a few survivors pin the heap, so glibc's own trimming of its top cannot give it back
del churn
before = rss()
collections = FullCollections(0.05)
collections.start()
time.sleep(0.5)
collections.stop()
print(before, rss())
"""
