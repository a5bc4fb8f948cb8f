"""The interpreter settings of a proxy process: the GC policy, and busy proxy loops taking turns."""

import asyncio
import gc
import os
import sys
import time

import pytest

from proxies.interpreter import AUTOMATIC_FULL_OFF, YOUNG_THRESHOLD, TakeTurns, tune


@pytest.fixture
def interpreter_restored():
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.set_threshold(*thresholds)
    sys.setswitchinterval(interval)
    gc.unfreeze()


def test_tuned_young_collections_wait_for_more_objects_and_full_ones_never_come_by_themselves(interpreter_restored):
    gc.set_threshold(700, 10, 10)
    tune(0.002, full_gc_seconds=60)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, AUTOMATIC_FULL_OFF)
    assert sys.getswitchinterval() == pytest.approx(0.002)
    assert gc.get_freeze_count() > 0


def test_full_gc_seconds_0_keeps_cpythons_own_collection_policy(interpreter_restored):
    gc.set_threshold(700, 10, 10)
    tune(0.005, full_gc_seconds=0)
    assert gc.get_threshold() == (700, 10, 10)


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
