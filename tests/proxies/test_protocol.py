"""The proxies' HTTP protocol: the writes of one loop turn leave in one transport write, and none waits longer."""

import asyncio

from proxies.protocol import TurnWrites


class Recording:
    """A transport that keeps what it was given."""

    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data):
        self.writes.append(data)

    def is_closing(self):
        return self.closed or self.aborted

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5000)}.get(name, default)


async def test_an_answers_head_and_body_leave_together_at_the_end_of_the_turn():
    real = Recording()
    writes = TurnWrites(real, asyncio.get_running_loop())
    writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    writes.write(b"{}")
    assert real.writes == [] and writes.get_write_buffer_size() == 40
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_a_streams_chunks_leave_in_the_turn_they_were_written():
    real = Recording()
    writes = TurnWrites(real, asyncio.get_running_loop())
    for chunk in (b"data: 1\n\n", b"data: 2\n\n"):
        writes.write(chunk)
        await asyncio.sleep(0.01)  # the upstream's next chunk comes later
    assert real.writes == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_closing_sends_what_was_written_first_and_a_gone_client_gets_nothing():
    real = Recording()
    writes = TurnWrites(real, asyncio.get_running_loop())
    writes.write(b"bye")
    writes.close()
    assert (real.writes, real.closed) == ([b"bye"], True)

    gone = Recording()
    writes = TurnWrites(gone, asyncio.get_running_loop())
    writes.write(b"too late")
    gone.closed = True  # the client left before the turn ended
    await asyncio.sleep(0)
    assert gone.writes == []
    assert writes.get_extra_info("peername") == ("127.0.0.1", 5000)  # the rest is the transport's own


async def test_an_abort_drops_what_waits():
    real = Recording()
    writes = TurnWrites(real, asyncio.get_running_loop())
    writes.write(b"dropped")
    writes.abort()
    await asyncio.sleep(0)
    assert (real.writes, real.aborted) == ([], True)
