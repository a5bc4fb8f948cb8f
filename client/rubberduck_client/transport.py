"""Runs plans (plans.py) over httpx: `run` blocking, `run_async` on an event loop. The only I/O of the client."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from rubberduck_client.errors import RubberduckError
from rubberduck_client.plans import Answer, Call, Pause, Plan

VERSION = "0.1.0"
DEFAULT_URL = "http://127.0.0.1:8000"
# A write answers once the running proxy applies it, which the server waits for up to 5 s (then 202, polled).
TIMEOUT = httpx.Timeout(30.0, connect=5.0)

T = TypeVar("T")


def client_options(url: str | None, token: str | None) -> dict[str, Any]:
    """httpx client options for the server at `url` (default: $RUBBERDUCK_URL) with `token` ($RUBBERDUCK_TOKEN)."""
    url = (url or os.environ.get("RUBBERDUCK_URL") or DEFAULT_URL).rstrip("/")
    token = token or os.environ.get("RUBBERDUCK_TOKEN")
    headers = {"accept": "application/json", "user-agent": f"rubberduck-client/{VERSION}"}
    if token:
        headers["authorization"] = f"Token {token}"
    return {"base_url": url, "headers": headers, "timeout": TIMEOUT}


def request_of(http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
    return http.build_request(
        call.method, call.path, params=call.params, json=call.json, content=call.content, headers=call.headers
    )


def answer_of(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.headers, response.content, response.reason_phrase)


def unreachable(http: httpx.Client | httpx.AsyncClient, error: httpx.TransportError) -> RubberduckError:
    return RubberduckError(None, f"Cannot reach Rubberduck at {http.base_url}: {error}", code="unreachable")


class Download:
    """A body written as it arrives to a temporary file beside the target, which replaces the target once all of
    it is in (a broken download leaves the target as it was)."""

    def __init__(self, target: Path):
        self.target = target
        self.file: IO[bytes] | None = None
        self.name = ""

    def __enter__(self) -> Download:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        handle, self.name = tempfile.mkstemp(prefix=f".{self.target.name}.", dir=self.target.parent)
        self.file = os.fdopen(handle, "wb")
        return self

    def write(self, chunk: bytes) -> None:
        assert self.file is not None
        self.file.write(chunk)

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        assert self.file is not None
        self.file.close()
        if kind is None:
            os.chmod(self.name, file_mode(self.target))
            os.replace(self.name, self.target)
        else:
            with suppress(OSError):
                os.unlink(self.name)


def file_mode(path: Path) -> int:
    """The mode the file has, else what a new file gets (mkstemp's are private to their owner)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def downloaded(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.headers, b"", response.reason_phrase)


def send(http: httpx.Client, call: Call) -> Answer:
    if call.download is None:
        return answer_of(http.send(request_of(http, call)))
    response = http.send(request_of(http, call), stream=True)
    try:
        if not response.is_success:
            response.read()
            return answer_of(response)
        with Download(call.download) as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
        return downloaded(response)
    finally:
        response.close()


async def send_async(http: httpx.AsyncClient, call: Call) -> Answer:
    if call.download is None:
        return answer_of(await http.send(request_of(http, call)))
    response = await http.send(request_of(http, call), stream=True)
    try:
        if not response.is_success:
            await response.aread()
            return answer_of(response)
        with Download(call.download) as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)
        return downloaded(response)
    finally:
        await response.aclose()


@dataclass(frozen=True)
class Done:
    value: Any


def advance(plan: Plan[Any], reply: Answer | None) -> Call | Pause | Done:
    try:
        return plan.send(reply)
    except StopIteration as done:
        return Done(done.value)


def run(http: httpx.Client, plan: Plan[T]) -> T:
    with closing(plan):
        step = advance(plan, None)
        while not isinstance(step, Done):
            if isinstance(step, Pause):
                time.sleep(step.seconds)
                step = advance(plan, None)
                continue
            try:
                answer = send(http, step)
            except httpx.TransportError as e:
                raise unreachable(http, e) from e
            step = advance(plan, answer)
        return step.value


async def run_async(http: httpx.AsyncClient, plan: Plan[T]) -> T:
    with closing(plan):
        step = advance(plan, None)
        while not isinstance(step, Done):
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                step = advance(plan, None)
                continue
            try:
                answer = await send_async(http, step)
            except httpx.TransportError as e:
                raise unreachable(http, e) from e
            step = advance(plan, answer)
        return step.value
