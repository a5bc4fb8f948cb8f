"""The client's tests run against a throwaway server that the client's own pytest plugin starts for the session
(`rubberduck_server`), never against a server the environment points at."""

import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from rubberduck_client import AsyncRubberduck

os.environ.pop("RUBBERDUCK_URL", None)
os.environ.pop("RUBBERDUCK_TOKEN", None)
if not shutil.which("rubberduck") and not Path(sys.executable).with_name("rubberduck").exists():
    # Until the `rubberduck` command is installed: its `serve` and `token create` over manage.py.
    shim = Path(__file__).with_name("manage_command.py")
    os.environ.setdefault("RUBBERDUCK_SERVER_CMD", shlex.join([sys.executable, str(shim)]))


@pytest.fixture
async def async_rubberduck(rubberduck_server):
    async with AsyncRubberduck(rubberduck_server.url, rubberduck_server.token) as client:
        yield client
