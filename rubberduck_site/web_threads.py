"""Django's ASGI handler, with each request's synchronous work on a reused thread instead of a new one.

Django runs a request's views and middleware in a `ThreadSensitiveContext`; without an executor of its own,
asgiref starts a thread for every such context and joins it in another, so each API call started two threads
and, on SQLite, opened a connection on the first (its connections are per thread) and left it to the GC.
Here a request borrows an idle single-thread executor and gives it back: its thread, and the database
connection that thread holds, serve the next request. Requests in flight at once still get a thread each,
so a slow purge or export never holds up another call; and a thread comes back only once its work is done
(a client that hangs up does not stop a view that is running), so no request queues behind an earlier one.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

KEEP_IDLE = 8  # idle threads kept for the next requests; past them a returned one ends (its connection closed)


class ReusedThreadsASGIHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self.idle: list[ThreadPoolExecutor] = []  # only touched on the event loop: no lock

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.idle.pop() if self.idle else ThreadPoolExecutor(1, thread_name_prefix="rubberduck-web")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.give_back(executor)

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """Idle again once everything submitted to it has run: a no-op queued behind that work says when."""
        loop = asyncio.get_running_loop()
        done = executor.submit(lambda: None)
        done.add_done_callback(lambda _: call_soon_unless_closed(loop, self.idle_again, executor))

    def idle_again(self, executor: ThreadPoolExecutor) -> None:
        if len(self.idle) < KEEP_IDLE:
            self.idle.append(executor)
        else:
            executor.submit(connections.close_all)  # this thread's: Django's connections are per thread
            executor.shutdown(wait=False)


def call_soon_unless_closed(loop: asyncio.AbstractEventLoop, callback, *args) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the server stopped while the thread worked: nothing to give back to
        pass
