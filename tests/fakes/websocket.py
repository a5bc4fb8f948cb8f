"""Fake WebSocket upstreams on loopback, speaking enough of OpenAI's Realtime API and Gemini's Live API for their
SDKs: a real websockets server in a thread of its own; tests read back each handshake and every message received.

Both fakes also obey a test's own messages: bytes are echoed as bytes, and `{"type": "test.close", "code": C,
"reason": R}` (OpenAI) or `{"testClose": {"code": C, "reason": R}}` (Gemini) closes the socket with that code."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

WORDS = ["Hello", " from", " the", " fake", " socket", "!"]


class FakeSocketUpstream:
    def __init__(self, session: Callable[[ServerConnection, FakeSocketUpstream], None]):
        self.session = session
        self.handshakes: list[Request] = []
        self.received: list[str | bytes] = []
        self.closed_with: list[tuple[int | None, str]] = []  # the close code and reason of each ended session
        self.refusal: Response | None = None  # answer the next handshakes with this instead
        self.server = serve(self._handle, "127.0.0.1", 0, process_request=self._check, compression=None, max_size=None)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """What a proxy's upstream_url names (it opens ws:// itself)."""
        return f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"

    def start(self) -> FakeSocketUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def refuse(self, status: int, body: dict) -> None:
        headers = Headers([("Content-Type", "application/json"), ("x-request-id", "req_refused")])
        self.refusal = Response(status, HTTPStatus(status).phrase, headers, json.dumps(body).encode())

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(request)
        return self.refusal

    def _handle(self, connection: ServerConnection) -> None:
        try:
            self.session(connection, self)
        except ConnectionClosed:
            pass
        finally:
            closed = connection.protocol.close_rcvd
            self.closed_with.append((closed.code, closed.reason) if closed else (None, ""))

    def receive(self, connection: ServerConnection):
        """The session's messages, each kept; bytes echoed as they came."""
        for message in connection:
            self.received.append(message)
            if isinstance(message, bytes):
                connection.send(message)
                continue
            yield json.loads(message)


def openai_realtime(connection: ServerConnection, fake: FakeSocketUpstream) -> None:
    """`session.created` first; `session.update` -> `session.updated`; `response.create` -> a text response."""

    def send(kind: str, **data) -> None:
        connection.send(json.dumps({"type": kind, "event_id": f"event_{len(fake.received)}", **data}))

    session = {"id": "sess_fake", "object": "realtime.session", "type": "realtime", "model": "gpt-realtime"}
    send("session.created", session=session)
    for event in fake.receive(connection):
        kind = event.get("type")
        if kind == "session.update":
            send("session.updated", session={**session, **event.get("session", {})})
        elif kind == "response.create":
            response = {"id": "resp_fake", "object": "realtime.response", "status": "in_progress", "output": []}
            send("response.created", response=response)
            for word in WORDS:
                send("response.output_text.delta", response_id="resp_fake", item_id="item_fake", delta=word)
            usage = {"total_tokens": 30, "input_tokens": 12, "output_tokens": 18}
            send("response.done", response={**response, "status": "completed", "usage": usage})
        elif kind == "test.close":
            connection.close(event["code"], event["reason"])
            return


def gemini_live(connection: ServerConnection, fake: FakeSocketUpstream) -> None:
    """`setup` -> `setupComplete`; a turn -> its text in parts, then `turnComplete` with the usage. Google sends
    its JSON in binary frames."""

    def send(message: dict) -> None:
        connection.send(json.dumps(message).encode())

    for event in fake.receive(connection):
        if "setup" in event:
            send({"setupComplete": {}})
        elif {"clientContent", "client_content", "realtimeInput", "realtime_input"} & event.keys():  # both spellings
            for word in WORDS:
                send({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": word}]}}})
            usage = {"promptTokenCount": 9, "responseTokenCount": 6, "totalTokenCount": 15}
            send({"serverContent": {"turnComplete": True}, "usageMetadata": usage})
        elif "testClose" in event:
            connection.close(event["testClose"]["code"], event["testClose"]["reason"])
            return
