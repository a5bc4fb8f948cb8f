"""What a Gemini API proxy does not model passes through: google-genai -> a real proxy -> a fake Gemini API
project. Files (uploaded with Google's resumable protocol, each chunk a request of its own) and cached contents:
forwarded as sent, answered as the upstream answered, logged once each, never cached."""

import hashlib
import io

import pytest
from google import genai
from google.genai import errors, types

from tests.conftest import flushed_logs, set_failures, wait_until
from tests.fakes import google as fake

MODEL = "gemini-2.5-flash"
# Two 8 MiB chunks and a piece: the SDK uploads each in a request of its own.
CONTENT = bytes(range(256)) * (20 * 1024 * 1024 // 256)


@pytest.fixture
def account():
    return fake.GeminiAccount()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("gemini", upstream_url=upstream.url)


def client_for(proxy):
    return genai.Client(api_key="AIza-files", http_options=types.HttpOptions(base_url=proxy["base_url"]))


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_uploads_a_file_with_the_resumable_protocol_then_lists_gets_and_deletes_it(proxy, upstream, runner):
    client = client_for(proxy)
    uploaded = client.files.upload(
        file=io.BytesIO(CONTENT), config={"mime_type": "application/pdf", "display_name": "r"}
    )
    listed = list(client.files.list())
    got = client.files.get(name=uploaded.name)
    client.files.delete(name=uploaded.name)

    assert (uploaded.size_bytes, uploaded.mime_type, uploaded.display_name) == (len(CONTENT), "application/pdf", "r")
    assert uploaded.sha256_hash == hashlib.sha256(CONTENT).hexdigest()  # every chunk arrived, in order
    assert [f.name for f in listed] == [uploaded.name] and got.name == uploaded.name
    sent = upstream.requests
    commands = [r.headers.get("x-goog-upload-command") for r in sent[:4]]
    assert commands == ["start", "upload", "upload", "upload, finalize"]
    assert [r.headers.get("x-goog-upload-offset") for r in sent[1:4]] == ["0", "8388608", "16777216"]
    assert [r.path.split("?")[0] for r in sent[:4]] == ["/upload/v1/files"] * 4  # the session URL, via the proxy
    # The session's upload id stands for the key, which only its start carries.
    assert [r.headers.get("x-goog-api-key") for r in sent] == ["AIza-files", None, None, None] + ["AIza-files"] * 3
    entries = logs(runner, proxy, 7)  # the chunks came through the proxy too: the upload URL named it
    assert [(e.method, e.path, e.cache) for e in entries][:4] == [("POST", "/upload/v1/files", "bypass")] * 4
    assert {(e.status_code, e.cache) for e in entries} == {(200, "bypass")}


def test_it_passes_cached_contents_through(proxy, upstream, runner):
    client = client_for(proxy)
    contents = [types.Content(role="user", parts=[types.Part(text="A long document about ducks. " * 200)])]
    cache = client.caches.create(model=MODEL, config={"contents": contents, "ttl": "300s", "display_name": "ducks"})
    assert client.caches.get(name=cache.name).display_name == "ducks"
    assert [c.name for c in client.caches.list()] == [cache.name]
    updated = client.caches.update(name=cache.name, config={"ttl": "600s"})
    client.caches.delete(name=cache.name)

    assert cache.usage_metadata.total_token_count == 4096
    assert updated.expire_time > cache.expire_time
    assert [r.method for r in upstream.requests] == ["POST", "GET", "GET", "PATCH", "DELETE"]
    assert b"ducks" in upstream.requests[0].body  # the body as the SDK sent it
    assert len(logs(runner, proxy, 5)) == 5


def test_a_pass_through_is_never_cached(proxy, upstream):
    client = client_for(proxy)
    assert list(client.caches.list()) == list(client.caches.list()) == []
    assert len(upstream.requests) == 2


def test_an_injected_429_on_a_files_list_raises_the_sdks_client_error(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    client = client_for(proxy)
    with pytest.raises(errors.ClientError) as caught:
        list(client.files.list())
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert upstream.requests == []
