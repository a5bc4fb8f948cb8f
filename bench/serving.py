"""How the bench's own servers (the fake upstream, the yardstick) are served: uvicorn + uvloop + httptools, quiet.

Imported by those scripts as `serving`: run as `python bench/<script>.py`, bench/ is first on sys.path."""

from __future__ import annotations

import threading

import uvicorn


def server(app, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=4096,
        timeout_keep_alive=75,
    )
    return uvicorn.Server(config)


def serve_each(apps: dict[int, object]) -> None:
    """Serves each app on its port from its own thread and event loop, as a runner serves its proxies."""
    threads = [threading.Thread(target=server(app, port).run, name=f"serve-{port}") for port, app in apps.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
