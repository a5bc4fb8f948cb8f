"""Proxies with `tls: true`: the server's own CA, its download, HTTPS proxies, and Bedrock API keys over them."""

from __future__ import annotations

import ssl
import stat

import boto3
import httpx
import pytest
from botocore.config import Config
from cryptography import x509
from rest_framework.test import APIClient

from proxies import tls
from tests.fakes import bedrock as fake
from tests.fakes.server import FakeUpstream

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def ca_file(api, data_dir):
    response = api.get("/api/v1/tls/ca.pem")
    assert response.status_code == 200
    path = data_dir / "downloaded-ca.pem"
    path.write_bytes(response.content)
    return path


def test_it_creates_the_ca_once_and_keeps_its_key_private(data_dir):
    first, _ = tls.ensure_ca()
    second, _ = tls.ensure_ca()
    assert first == second
    assert first.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(tls.ca_key_path().stat().st_mode) == 0o600
    assert tls.ca_key_path().parent == data_dir / "tls"


def test_it_serves_the_ca_certificate_to_signed_in_users_only(api, db):
    response = api.get("/api/v1/tls/ca.pem")
    assert response.status_code == 200 and response["content-type"] == "application/x-pem-file"
    assert response.content == tls.ca_cert_path().read_bytes()
    assert x509.load_pem_x509_certificate(response.content).subject == tls.ensure_ca()[0].subject
    assert APIClient().get("/api/v1/tls/ca.pem").status_code in (401, 403)


def test_it_issues_server_certificates_for_the_proxy_host_and_loopback_names():
    chain, _ = tls.issue_server_cert("192.0.2.10")
    cert = x509.load_pem_x509_certificate(chain)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1", "192.0.2.10"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert isinstance(tls.server_context("127.0.0.1"), ssl.SSLContext)
    assert list((tls.tls_dir()).glob("issue-*")) == []  # no server key left on disk


def test_a_tls_proxy_serves_https_that_only_the_ca_vouches_for(make_proxy, ca_file):
    proxy = make_proxy("bedrock", tls=True)
    assert proxy["status"] == "running", proxy["last_error"]
    assert proxy["base_url"].startswith("https://127.0.0.1:")
    for host in ("127.0.0.1", "localhost"):
        url = proxy["base_url"].replace("127.0.0.1", host) + "/nowhere"
        answer = httpx.post(url, content=b"{}", verify=str(ca_file))
        assert answer.status_code == 404 and answer.headers["x-amzn-errortype"].startswith("UnknownOperation")
    with pytest.raises(httpx.ConnectError):
        httpx.post(proxy["base_url"] + "/nowhere", content=b"{}")  # the system CAs do not know it


def test_a_bedrock_api_key_passes_through_a_tls_proxy_unchanged(make_proxy, ca_file, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSKtest-bedrock-api-key")
    bedrock = fake.FakeBedrock()
    upstream = FakeUpstream(bedrock.respond).start()
    try:
        proxy = make_proxy("bedrock", upstream_url=upstream.url, tls=True)
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=proxy["base_url"],
            verify=str(ca_file),
            config=Config(retries={"total_max_attempts": 1}),
        )
        messages = [{"role": "user", "content": [{"text": "Say hello"}]}]
        answer = client.converse(modelId=MODEL, messages=messages)
        events = list(client.converse_stream(modelId=MODEL, messages=messages)["stream"])

        assert answer["output"]["message"]["content"] == [{"text": "Hello from the fake Bedrock!"}]
        assert events[-1]["metadata"]["usage"] == fake.CONVERSE_USAGE
        assert bedrock.verified == ["bearer", "bearer"]
        assert [r.headers["authorization"] for r in upstream.requests] == ["Bearer ABSKtest-bedrock-api-key"] * 2
        again = client.converse(modelId=MODEL, messages=messages)
        assert again["ResponseMetadata"]["HTTPHeaders"]["x-rubberduck-cache"] == "hit"
    finally:
        upstream.stop()


def test_boto3_refuses_an_api_key_over_plain_http(make_proxy, monkeypatch):
    """Why tls exists: the same client against an http proxy never sends the key."""
    from botocore.exceptions import InvalidEndpointConfigurationError

    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSKtest-bedrock-api-key")
    proxy = make_proxy("bedrock")
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=proxy["base_url"])
    with pytest.raises(InvalidEndpointConfigurationError):
        client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
