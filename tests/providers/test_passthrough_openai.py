"""What an OpenAI proxy does not model passes through: the official openai SDK -> a real proxy -> a fake
api.openai.com account (files, batches, fine-tuning jobs, vector stores). Forwarded as sent, answered as the
upstream answered, logged once each (never a body), never cached, and the failure rules apply as to any call."""

import io
import threading

import openai
import pytest

from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import openai as fake
from tests.fakes.server import Reply, chunked

# Bytes of every value, CR LF and what looks like multipart framing: what a parser would trip on, passed through.
CONTENT = bytes(range(256)) * 64 + b'\r\n--boundary\r\n\r\n{"custom_id": "1"}\n'
BIG = 32 * 1024 * 1024


@pytest.fixture
def account():
    return fake.Account()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("openai", upstream_url=upstream.url + "/v1")


def client_for(proxy, **kw):
    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-files", max_retries=0, **kw)


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_passes_files_through_upload_list_download_and_delete(proxy, upstream, runner):
    client = client_for(proxy)
    created = client.files.with_raw_response.create(file=("batch.jsonl", CONTENT), purpose="batch")
    uploaded = created.parse()
    listed = client.files.list()
    downloaded = client.files.content(uploaded.id)
    deleted = client.files.delete(uploaded.id)

    assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (len(CONTENT), "batch.jsonl", "batch")
    assert [f.id for f in listed.data] == [uploaded.id]
    assert downloaded.content == CONTENT
    assert deleted.deleted is True
    assert "x-rubberduck-cache" not in created.headers
    sent = upstream.requests
    assert [(r.method, r.path) for r in sent] == [
        ("POST", "/v1/files"),
        ("GET", "/v1/files"),
        ("GET", f"/v1/files/{uploaded.id}/content"),
        ("DELETE", f"/v1/files/{uploaded.id}"),
    ]
    # The form went as the SDK drew it: its boundary, its bytes.
    assert sent[0].headers["content-type"] == created.http_request.headers["content-type"]
    assert sent[0].body == created.http_request.read()
    assert all(r.headers["authorization"] == "Bearer sk-files" for r in sent)
    entries = logs(runner, proxy, 4)
    assert [(e.method, e.path, e.status_code, e.cache, e.prompt_hash, e.model) for e in entries] == [
        ("POST", "/v1/files", 200, "bypass", "", ""),
        ("GET", "/v1/files", 200, "bypass", "", ""),
        ("GET", f"/v1/files/{uploaded.id}/content", 200, "bypass", "", ""),
        ("DELETE", f"/v1/files/{uploaded.id}", 200, "bypass", "", ""),
    ]


def test_it_never_caches_a_pass_through(proxy, upstream, runner):
    client = client_for(proxy)
    first, second = client.files.list(), client.files.list()
    assert first.data == second.data == []
    assert [r.path for r in upstream.requests] == ["/v1/files", "/v1/files"]
    assert [e.cache for e in logs(runner, proxy, 2)] == ["bypass", "bypass"]


def test_it_passes_batches_fine_tuning_jobs_and_vector_stores_through(proxy, upstream, runner):
    client = client_for(proxy)
    batch = client.batches.create(input_file_id="file-abc", endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.retrieve(batch.id).status == "validating"
    assert [b.id for b in client.batches.list()] == [batch.id]
    assert client.batches.cancel(batch.id).status == "cancelling"
    assert [job.id for job in client.fine_tuning.jobs.list()] == ["ftjob-1"]
    store = client.vector_stores.create(name="ducks")
    assert client.vector_stores.retrieve(store.id).name == "ducks"
    assert [s.id for s in client.vector_stores.list()] == [store.id]
    assert client.vector_stores.delete(store.id).deleted is True

    assert upstream.requests[5].headers["openai-beta"] == "assistants=v2"  # the SDK's headers, as sent
    entries = logs(runner, proxy, 9)
    assert len(entries) == 9 and {(e.status_code, e.cache) for e in entries} == {(200, "bypass")}


def test_an_upstream_error_comes_back_as_the_upstream_said_it(proxy, upstream):
    with pytest.raises(openai.NotFoundError) as caught:
        client_for(proxy).files.retrieve("file-missing")
    assert caught.value.message.startswith("Error code: 404") and "No such object" in caught.value.message
    assert caught.value.response.headers["x-request-id"] == fake.JSON[1][1]


@pytest.mark.parametrize(
    ("failures", "error"),
    [
        ({"errors": [{"status": 429, "rate": 1.0}]}, openai.RateLimitError),
        ({"errors": [{"status": 500, "rate": 1.0}]}, openai.InternalServerError),
        ({"ip_block": ["127.0.0.1"]}, openai.PermissionDeniedError),
    ],
)
def test_the_failure_rules_apply_to_a_pass_through(api, runner, proxy, upstream, failures, error):
    set_failures(api, runner, proxy, failures)
    with pytest.raises(error) as caught:
        client_for(proxy).files.list()
    assert caught.value.response.headers["x-rubberduck-failure"] in ("error", "ip_blocked")
    assert upstream.requests == []
    [entry] = logs(runner, proxy, 1)
    assert entry.failure in ("error", "ip_blocked") and entry.cache == "bypass"


def test_the_rpm_limit_counts_pass_throughs(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"rpm_limit": 1})
    client = client_for(proxy)
    client.files.list()
    with pytest.raises(openai.RateLimitError) as caught:
        client.files.create(file=("a.jsonl", CONTENT), purpose="batch")
    assert caught.value.response.headers["retry-after"]
    assert [r.path for r in upstream.requests] == ["/v1/files"]


def test_a_delayed_upload_arrives_whole(api, runner, proxy, upstream, account):
    set_failures(api, runner, proxy, {"timeout": {"mode": "delay", "seconds": 0.3, "rate": 1.0}})
    uploaded = client_for(proxy).files.create(file=("a.jsonl", CONTENT), purpose="batch")
    assert account.contents[uploaded.id] == CONTENT
    [entry] = logs(runner, proxy, 1)
    assert (entry.status_code, entry.failure) == (200, "timeout")


class Patient(io.BytesIO):
    """An upload that, halfway, waits until the upstream has seen its first bytes: it only sees them that early
    when the proxy streams the body instead of holding it whole."""

    def __init__(self, content: bytes, seen: threading.Event):
        super().__init__(content)
        self.seen = seen
        self.upstream_saw_it_midway: bool | None = None

    def read(self, size=-1):
        if self.upstream_saw_it_midway is None and self.tell() >= len(self.getbuffer()) // 2:
            self.upstream_saw_it_midway = self.seen.wait(10)
        return super().read(size)


def test_a_large_upload_streams_through_the_proxy(proxy, upstream, account):
    content = bytes(range(256)) * (BIG // 256)
    upload = Patient(content, upstream.body_started)
    uploaded = client_for(proxy, timeout=60).files.create(file=("big.jsonl", upload), purpose="batch")
    assert upload.upstream_saw_it_midway is True
    assert uploaded.bytes == BIG and account.contents[uploaded.id] == content
    assert upstream.requests[0].headers["content-length"] == str(len(upstream.requests[0].body))


def test_a_large_download_streams_through_the_proxy(proxy, upstream):
    content = bytes(range(256)) * (BIG // 256)
    received_first_bytes = threading.Event()
    reply = Reply(
        200, [("content-type", "application/octet-stream")], chunks=chunked(content), gate=received_first_bytes
    )
    upstream.queue(reply)
    client = client_for(proxy, timeout=60)  # held: a client collected mid-stream closes its connections
    with client.files.with_streaming_response.content("file-big") as response:
        parts = []
        for part in response.iter_bytes():
            parts.append(part)
            received_first_bytes.set()  # the upstream sends the rest only now
    assert reply.gate_opened is True  # the first bytes reached the client while the upstream held back the rest
    assert b"".join(parts) == content


def test_the_async_client_passes_through_too(proxy, upstream):
    async def run():
        async with openai.AsyncOpenAI(base_url=proxy["base_url"], api_key="sk-files", max_retries=0) as client:
            uploaded = await client.files.create(file=("a.jsonl", CONTENT), purpose="batch")
            content = await client.files.content(uploaded.id)
            return content.content

    assert run_async(run()) == CONTENT
    assert [r.method for r in upstream.requests] == ["POST", "GET"]
