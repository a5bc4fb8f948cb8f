"""Busy proxy loops take turns: a loop that answered requests yields the core at most once per turn."""

import asyncio
import os
import time

import pytest

from proxies.interpreter import TakeTurns


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


def test_an_idle_loop_and_a_switched_off_one_never_yield(yields):
    async def scenario():
        idle = TakeTurns(asyncio.get_running_loop(), 0.001)
        off = TakeTurns(asyncio.get_running_loop(), 0)
        await asyncio.sleep(0.01)
        for _ in range(3):
            off.answered()
            await asyncio.sleep(0.002)
        assert yields == []
        assert idle.scheduled is False

    asyncio.run(scenario())
