"""What an Azure OpenAI proxy does not model passes through: the official AzureOpenAI client -> a real proxy -> a
fake Azure OpenAI resource's files and batches, with the api-version and the api-key as the client sent them."""

import openai
import pytest

from tests.conftest import flushed_logs, set_failures, wait_until
from tests.fakes import azure_openai as fake

API_VERSION = "2024-10-21"
CONTENT = bytes(range(256)) * 64 + b'\n{"custom_id": "1"}\r\n'


@pytest.fixture
def account():
    return fake.Account()


@pytest.fixture
def proxy(make_proxy, upstream):
    return make_proxy("azure_openai", upstream_url=upstream.url)


def client_for(proxy):
    return openai.AzureOpenAI(
        azure_endpoint=proxy["base_url"], api_version=API_VERSION, api_key="azure-key", max_retries=0
    )


def logs(runner, proxy, count):
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def test_it_passes_files_and_batches_through(proxy, upstream, account, runner):
    client = client_for(proxy)
    uploaded = client.files.create(file=("batch.jsonl", CONTENT), purpose="batch")
    assert [f.id for f in client.files.list()] == [uploaded.id]
    assert client.files.content(uploaded.id).content == CONTENT
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/chat/completions", completion_window="24h")
    assert client.batches.retrieve(batch.id).input_file_id == uploaded.id
    assert [b.id for b in client.batches.list()] == [batch.id]
    assert client.batches.cancel(batch.id).status == "cancelling"
    assert client.files.delete(uploaded.id).deleted is True

    assert account.files == {} and account.batches[batch.id]["status"] == "cancelling"
    sent = upstream.requests
    assert [(r.method, r.path) for r in sent][:3] == [
        ("POST", f"/openai/files?api-version={API_VERSION}"),
        ("GET", f"/openai/files?api-version={API_VERSION}"),
        ("GET", f"/openai/files/{uploaded.id}/content?api-version={API_VERSION}"),
    ]
    assert all(r.headers["api-key"] == "azure-key" for r in sent)
    entries = logs(runner, proxy, 8)
    assert {(e.status_code, e.cache) for e in entries} == {(200, "bypass")}
    assert entries[0].path == "/openai/files"


def test_the_v1_paths_pass_through_too(proxy, upstream):
    client = openai.OpenAI(base_url=proxy["base_url"] + "/openai/v1/", api_key="azure-key", max_retries=0)
    uploaded = client.files.create(file=("a.jsonl", CONTENT), purpose="batch")
    assert client.files.content(uploaded.id).content == CONTENT
    assert [r.path for r in upstream.requests] == ["/openai/v1/files", f"/openai/v1/files/{uploaded.id}/content"]


def test_a_pass_through_is_never_cached(proxy, upstream):
    client = client_for(proxy)
    assert client.files.list().data == client.files.list().data == []
    assert len(upstream.requests) == 2


def test_an_injected_429_on_a_files_list_raises_rate_limit_error(api, runner, proxy, upstream):
    set_failures(api, runner, proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    with pytest.raises(openai.RateLimitError) as caught:
        client_for(proxy).files.list()
    assert caught.value.response.headers["retry-after"] == "1"
    assert "Azure OpenAI API" in caught.value.message
    assert upstream.requests == []
