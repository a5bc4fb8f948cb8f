"""Browser tests: Playwright drives Debian's chromium against the real app served on loopback, with a real
runner and a fake upstream. Each test leaves a screenshot of its final state in artifacts/screenshots/."""

import asyncio
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from django.conf import settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.browser
# Playwright's sync API keeps an event loop on the test thread; the ORM calls the tests make are plain
# synchronous calls all the same, so Django's async-safety guard would only get in the way here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveApp:
    """The whole ASGI app (Django HTTP + Channels WebSockets) on a loopback port, in a thread."""

    def __init__(self):
        from rubberduck_site.asgi import application

        self.port = free_port()
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_config=None, lifespan="off", ws="websockets"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def live_app(runner, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    app = LiveApp().start()
    yield app
    app.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is missing at {CHROMIUM}: `make test` installs it (apt-get install chromium).")
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def shot(page, request):
    """Call at the end of a test: saves the page as artifacts/screenshots/<test name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take():
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)

    return take
