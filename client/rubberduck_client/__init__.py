"""A client for Rubberduck's REST API, blocking (`Rubberduck`) and async (`AsyncRubberduck`)."""

from rubberduck_client.aio import AsyncProxy, AsyncRubberduck
from rubberduck_client.errors import RubberduckError
from rubberduck_client.sync import Proxy, Rubberduck
from rubberduck_client.transport import VERSION as __version__

__all__ = ["AsyncProxy", "AsyncRubberduck", "Proxy", "Rubberduck", "RubberduckError", "__version__"]
