"""What an Anthropic proxy does not cache passes through: the official anthropic SDK -> a real proxy -> a fake
api.anthropic.com account. Message batches (create, retrieve, list, results as JSONL, cancel, delete) and files
(beta): forwarded as sent, answered as the upstream answered, logged once each, never cached."""

import json
import threading

import anthropic
import pytest

from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import anthropic as fake
from tests.fakes.server import Reply, chunked

REQUESTS = [
    {
        "custom_id": f"q{i}",
        "params": {"model": fake.MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
    }
    for i in range(5)
]
BETA = "files-api-2025-04-14"
CONTENT = bytes(range(256)) * 16 + b"\r\n--boundary\r\n\r\n%PDF-1.7\n"


@pytest.fixture
def account():
    return fake.Account()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("anthropic", upstream_url=upstream.url)


def client_for(proxy, **kw):
    return anthropic.Anthropic(base_url=proxy["base_url"], api_key="sk-ant-batches", max_retries=0, **kw)


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_passes_a_message_batch_through_create_retrieve_results_cancel_and_delete(proxy, upstream, runner):
    client = client_for(proxy)
    batch = client.messages.batches.create(requests=REQUESTS)
    retrieved = client.messages.batches.retrieve(batch.id)
    listed = client.messages.batches.list()
    results = list(client.messages.batches.results(batch.id))
    canceled = client.messages.batches.cancel(batch.id)
    deleted = client.messages.batches.delete(batch.id)

    # The batch names where its results are: the proxy, so the SDK fetches them through it.
    assert batch.results_url == retrieved.results_url == f"{proxy['base_url']}/v1/messages/batches/{batch.id}/results"
    assert [b.id for b in listed.data] == [batch.id] and listed.data[0].results_url == batch.results_url
    assert [r.custom_id for r in results] == [r["custom_id"] for r in REQUESTS]
    assert (
        results[0].result.type == "succeeded"
        and results[0].result.message.content[0].text == "Hello from the fake Claude!"
    )
    assert canceled.processing_status == "canceling" and deleted.type == "message_batch_deleted"
    assert [(r.method, r.path) for r in upstream.requests] == [
        ("POST", "/v1/messages/batches"),
        ("GET", f"/v1/messages/batches/{batch.id}"),
        ("GET", "/v1/messages/batches"),
        ("GET", f"/v1/messages/batches/{batch.id}"),  # the SDK reads the batch for its results_url
        ("GET", f"/v1/messages/batches/{batch.id}/results"),
        ("POST", f"/v1/messages/batches/{batch.id}/cancel"),
        ("DELETE", f"/v1/messages/batches/{batch.id}"),
    ]
    assert [r.headers.get("authorization") for r in upstream.requests] == ["Bearer sk-ant-batches"] * 7
    entries = logs(runner, proxy, 7)
    assert [(e.path, e.status_code, e.cache) for e in entries][4] == (
        f"/v1/messages/batches/{batch.id}/results",
        200,
        "bypass",
    )
    assert {(e.status_code, e.cache, e.prompt_hash) for e in entries} == {(200, "bypass", "")}


def test_batch_results_stream_through_the_proxy(proxy, upstream, account):
    client = client_for(proxy, timeout=60)  # held: a client collected mid-stream closes its connections
    batch = client.messages.batches.create(requests=REQUESTS)
    lines = b"".join(f'{{"custom_id": "q{i}", "result": {{"type": "expired"}}}}\n'.encode() for i in range(20000))
    first_line_read = threading.Event()
    upstream.queue(Reply(200, fake.JSON, json_batch(account, batch.id)))
    reply = Reply(200, [("content-type", "application/binary")], chunks=chunked(lines, 64 * 1024), gate=first_line_read)
    upstream.queue(reply)
    seen = []
    for result in client.messages.batches.results(batch.id):
        seen.append(result.custom_id)
        first_line_read.set()
    assert reply.gate_opened is True  # the first results reached the SDK while the upstream held back the rest
    assert len(seen) == 20000


def json_batch(account, batch_id) -> bytes:
    return json.dumps(account.batches[batch_id]).encode()


def test_it_passes_files_through_upload_list_metadata_download_and_delete(proxy, upstream, runner):
    files = client_for(proxy).beta.files
    uploaded = files.upload(file=("report.pdf", CONTENT, "application/pdf"), betas=[BETA])
    listed = files.list(betas=[BETA])
    metadata = files.retrieve_metadata(uploaded.id, betas=[BETA])
    downloaded = files.download(uploaded.id, betas=[BETA])
    deleted = files.delete(uploaded.id, betas=[BETA])

    assert (uploaded.filename, uploaded.size_bytes, uploaded.mime_type) == (
        "report.pdf",
        len(CONTENT),
        "application/pdf",
    )
    assert [f.id for f in listed.data] == [uploaded.id] and metadata.id == uploaded.id
    assert downloaded.read() == CONTENT
    assert deleted.type == "file_deleted"
    assert all(r.headers["anthropic-beta"] == BETA for r in upstream.requests)
    assert [r.method for r in upstream.requests] == ["POST", "GET", "GET", "GET", "DELETE"]
    assert len(logs(runner, proxy, 5)) == 5


def test_a_pass_through_is_never_cached(proxy, upstream):
    client = client_for(proxy)
    assert client.beta.files.list().data == client.beta.files.list().data == []
    assert len(upstream.requests) == 2


def test_an_injected_429_on_a_files_list_raises_rate_limit_error(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client_for(proxy).beta.files.list()
    assert caught.value.response.headers["x-should-retry"] == "true"
    assert upstream.requests == []
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (429, "error")


def test_the_async_client_passes_through_too(proxy, upstream):
    async def run():
        async with anthropic.AsyncAnthropic(base_url=proxy["base_url"], api_key="k", max_retries=0) as client:
            batch = await client.messages.batches.create(requests=REQUESTS[:2])
            return [r.custom_id async for r in await client.messages.batches.results(batch.id)]

    assert run_async(run()) == ["q0", "q1"]
