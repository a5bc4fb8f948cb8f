"""Noticing a client that left: waiting for its disconnect, and cancelling a forwarded request when it comes."""

from __future__ import annotations

import asyncio

DISCONNECTS = frozenset({"http.disconnect", "websocket.disconnect"})


async def wait_for_disconnect(receive) -> None:
    while (await receive())["type"] not in DISCONNECTS:
        pass


async def disconnected_within(receive, seconds: float, released: asyncio.Future | None = None) -> bool:
    """Waits `seconds` (a delay rule), or until `released` (a graceful stop); True when the client left meanwhile."""
    left = asyncio.ensure_future(wait_for_disconnect(receive))
    await asyncio.wait(
        (left, released) if released is not None else (left,), timeout=seconds, return_when=asyncio.FIRST_COMPLETED
    )
    if left.done():
        return True
    left.cancel()
    return False


async def cancel_on_disconnect(receive, task: asyncio.Task) -> None:
    await wait_for_disconnect(receive)
    task.cancel()


# A forwarded request is watched for its client's disconnect only once it has taken this long, since a watch costs
# a task (D16); a client that left earlier is seen as the watch starts, as receive() reports it then.
WATCH_AFTER_SECONDS = 0.05


class DisconnectWatch:
    """Cancels a forwarded request when its client disconnects, watching it from 1-2 WATCH_AFTER_SECONDS on.

    One sweep every WATCH_AFTER_SECONDS, while requests are in flight, starts the watches that are due, rather than
    a timer per request (D16)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.in_flight: dict[asyncio.Task, list] = {}  # task -> [started at, receive, watch task or None]
        self.sweeping = False

    def begin(self, receive, task: asyncio.Task | None = None) -> asyncio.Task:
        """Watches the client of `task` (the current one by default) from now on."""
        task = task or asyncio.current_task(self.loop)
        self.in_flight[task] = [self.loop.time(), receive, None]
        if not self.sweeping:
            self.sweeping = True
            self.loop.call_later(WATCH_AFTER_SECONDS, self.sweep)
        return task

    def end(self, task: asyncio.Task) -> None:
        watched = self.in_flight.pop(task, None)  # a pass-through's client is watched once its body is whole
        if watched is not None and watched[2] is not None:
            watched[2].cancel()

    def sweep(self) -> None:
        due = self.loop.time() - WATCH_AFTER_SECONDS
        for task, watched in self.in_flight.items():
            started, receive, watcher = watched
            if watcher is None and started <= due:
                watched[2] = self.loop.create_task(cancel_on_disconnect(receive, task))
        self.sweeping = bool(self.in_flight)
        if self.sweeping:
            self.loop.call_later(WATCH_AFTER_SECONDS, self.sweep)
