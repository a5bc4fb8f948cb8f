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
from playwright.sync_api import expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

# Auto-waiting assertions get 10 s rather than 5: `make test` may share the machine with other busy suites.
expect.set_options(timeout=10_000)
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
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]  # testserver: the tests' own API client
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


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters():
    """Every browser test signs in from 127.0.0.1; the login/sign-up rate-limit counters live in the cache, so
    each test starts from zero rather than inheriting the previous tests' attempts."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PASSWORD = "correct-horse-battery"


def sign_in(page, live_app, email="ada@example.com", password=PASSWORD, path="/"):
    """Signs in through the login screen, as a person would; returns once the app frame is shown."""
    page.goto(live_app.url + "/login")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("sign-out")).to_be_visible()
    if path != "/":
        page.goto(live_app.url + path)


@pytest.fixture
def signed_in(page, live_app, user):
    """A real browser session of the `user` fixture (ada@example.com), signed in through the login screen."""
    sign_in(page, live_app)
    return page


@pytest.fixture
def openai_proxy(make_proxy, openai_upstream):
    """A running openai proxy (created through the API) in front of the fake OpenAI upstream."""
    return make_proxy("openai", upstream_url=openai_upstream.url + "/v1", name="duck-openai")


def sdk(proxy):
    import openai

    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-test-key", max_retries=0)


def ask(proxy, text="Say hello"):
    """One chat completion through the proxy with the official SDK; returns the raw response (headers + parse())."""
    return sdk(proxy).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )
