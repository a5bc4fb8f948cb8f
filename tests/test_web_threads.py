"""The ASGI handler runs each request's synchronous part on a reused thread, never queued behind another's."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.signals import request_finished

from rubberduck_site.web_threads import ReusedThreadsASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


def scope(path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app, path: str) -> int:
    sent = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up

    async def send(message):
        sent.append(message)

    await app(scope(path), receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_requests_one_after_another_run_on_one_thread_that_stays():
    app = ReusedThreadsASGIHandler()
    threads = []

    def finished(**_):  # sent from the request's thread (Django closes the response there)
        threads.append(threading.current_thread().name)

    request_finished.connect(finished)
    try:

        async def calls():
            return [await call(app, "/healthz") for _ in range(10)]

        statuses = asyncio.run(calls())
    finally:
        request_finished.disconnect(finished)
    assert statuses == [200] * 10
    assert len(threads) == 10 and len(set(threads)) == 1 and threads[0].startswith("rubberduck-web")


def test_a_thread_still_working_for_a_request_is_not_lent_to_the_next():
    """A client that hung up does not stop its view: its thread comes back only once the view is done."""
    app = ReusedThreadsASGIHandler()
    release = threading.Event()

    async def scenario():
        busy = ThreadPoolExecutor(1, thread_name_prefix="rubberduck-web")
        busy.submit(release.wait)  # the hung-up request's view, still running
        app.give_back(busy)
        await asyncio.sleep(0.2)
        lent_while_busy = busy in app.idle
        status = await call(app, "/healthz")  # served meanwhile, on a thread of its own
        release.set()
        for _ in range(100):
            if busy in app.idle:
                break
            await asyncio.sleep(0.01)
        return lent_while_busy, status, busy in app.idle

    lent_while_busy, status, back = asyncio.run(scenario())
    assert not lent_while_busy
    assert status == 200
    assert back
