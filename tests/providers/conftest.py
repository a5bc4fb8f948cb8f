import pytest

from tests.fakes.server import FakeUpstream


@pytest.fixture
def upstream(account):
    """A real HTTP server on loopback answering as the module's `account` fixture (a fake provider account)."""
    server = FakeUpstream(account.respond).start()
    yield server
    server.stop()
