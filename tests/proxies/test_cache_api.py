"""The REST API of a proxy's stored answers: the listing (filters, pages, totals), deleting one, export and import
(validation with line numbers, all or nothing, counts). Rows from the factories on proxies no runner serves; the
running proxy's side is in test_cache_modes.py and test_recordings_round_trip.py."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from proxies.models import CacheEntry
from proxies.recordings import KEY_VERSION_NAME, safe_path
from tests.factories import CacheEntryFactory, ProxyFactory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def key(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture
def proxy(user):
    return ProxyFactory(owner=user, name="dev", provider="openai")


def stored(proxy, n, *, model="gpt-4o-mini", path="/v1/chat/completions", minutes=0, **fields):
    entry = CacheEntryFactory(proxy=proxy, key=key(n), model=model, path=path, method="POST", size=10 * n, **fields)
    CacheEntry.objects.filter(id=entry.id).update(created_at=T0 + timedelta(minutes=minutes or n))
    return entry


def listing(api, proxy, query=""):
    response = api.get(f"/api/v1/proxies/{proxy.id}/cache/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_it_lists_a_proxys_answers_newest_first_with_totals(api, proxy):
    stored(proxy, 1, hits=2)
    stored(proxy, 2, stream=True, hits=3, last_hit_at=T0)
    stored(ProxyFactory(), 3)  # another proxy's

    page = listing(api, proxy)
    assert page["count"] == 2 and page["total_bytes"] == 30 and page["total_hits"] == 5
    assert page["next"] is None and page["previous"] is None
    assert [r["key"] for r in page["results"]] == [key(2), key(1)]
    assert page["results"][0] == {
        "key": key(2),
        "method": "POST",
        "path": "/v1/chat/completions",
        "model": "gpt-4o-mini",
        "status": 200,
        "stream": True,
        "size": 20,
        "hits": 3,
        "recorded_at": "2026-01-01T00:02:00Z",
        "last_hit_at": "2026-01-01T00:00:00Z",
    }


def test_it_pages_the_listing(api, proxy):
    for n in range(1, 6):
        stored(proxy, n)
    first = listing(api, proxy, "?page_size=2")
    assert [r["key"] for r in first["results"]] == [key(5), key(4)] and first["count"] == 5
    assert first["previous"] is None and first["next"].endswith(f"/api/v1/proxies/{proxy.id}/cache/?page=2&page_size=2")
    last = listing(api, proxy, "?page=3&page_size=2")
    assert [r["key"] for r in last["results"]] == [key(1)] and last["next"] is None
    assert last["previous"].endswith("page=2&page_size=2")
    assert listing(api, proxy, "?page=9")["results"] == []
    for bad in ("?page=0", "?page_size=501", "?page=x"):
        assert api.get(f"/api/v1/proxies/{proxy.id}/cache/{bad}").status_code == 400, bad


def test_it_filters_the_listing_and_totals_what_matches(api, proxy):
    stored(proxy, 1, model="gpt-4o-mini", path="/v1/chat/completions")
    stored(proxy, 2, model="gpt-4o", path="/v1/chat/completions")
    stored(proxy, 3, model="text-embedding-3-small", path="/v1/embeddings")

    assert [r["key"] for r in listing(api, proxy, "?model=gpt-4o")["results"]] == [key(2)]  # exactly
    by_path = listing(api, proxy, "?path=embed")
    assert [r["key"] for r in by_path["results"]] == [key(3)] and by_path["total_bytes"] == 30
    assert [r["key"] for r in listing(api, proxy, "?q=gpt-4o")["results"]] == [key(2), key(1)]
    assert [r["key"] for r in listing(api, proxy, f"?q={key(1)[-8:]}")["results"]] == [key(1)]
    assert listing(api, proxy, "?q=chat&model=gpt-4o-mini")["count"] == 1


def test_another_users_cache_answers_404(api, other_api, proxy):
    stored(proxy, 1)
    base = f"/api/v1/proxies/{proxy.id}/cache"
    assert other_api.get(f"{base}/").status_code == 404
    assert other_api.delete(f"{base}/{key(1)}").status_code == 404
    assert other_api.get(f"{base}/export").status_code == 404
    assert other_api.post(f"{base}/import", b"", content_type="application/x-ndjson").status_code == 404
    assert CacheEntry.objects.filter(proxy=proxy).count() == 1


def test_it_deletes_one_answer(api, proxy):
    stored(proxy, 1)
    stored(proxy, 2)
    assert api.delete(f"/api/v1/proxies/{proxy.id}/cache/{key(1)}").status_code == 204
    assert list(CacheEntry.objects.filter(proxy=proxy).values_list("key", flat=True)) == [key(2)]
    missing = api.delete(f"/api/v1/proxies/{proxy.id}/cache/{key(1)}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_cache_without_a_slash_still_polls_a_clear(api, proxy):
    assert api.get(f"/api/v1/proxies/{proxy.id}/cache").status_code == 400  # a poll needs its revision
    assert api.delete(f"/api/v1/proxies/{proxy.id}/cache").json() == {"deleted": 0}


def export(api, proxy) -> bytes:
    response = api.get(f"/api/v1/proxies/{proxy.id}/cache/export")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_it_exports_sorted_lines_with_text_or_base64_bodies_and_no_secrets(api, proxy):
    stored(proxy, 2, body=b"\xff\x00binary", headers=[["content-type", "audio/mpeg"], ["set-cookie", "s=1"]])
    stored(proxy, 1, body=b'{"ok": true}', headers=[["Content-Type", "application/json"], ["x-request-id", "r"]],
           chunks=None, usage={"input_tokens": 3, "output_tokens": 4})  # fmt: skip
    header, first, second = [orjson.loads(line) for line in export(api, proxy).splitlines()]

    assert header["rubberduck_recording"] == 1 and header["entries"] == 2
    assert header["provider"] == "openai" and header["key_version"] == KEY_VERSION_NAME
    assert [first["key"], second["key"]] == [key(1), key(2)]
    assert first == {
        "key": key(1),
        "method": "POST",
        "path": "/v1/chat/completions",
        "model": "gpt-4o-mini",
        "status": 200,
        "headers": [["content-type", "application/json"]],
        "body": '{"ok": true}',
        "chunks": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
        "recorded_at": "2026-01-01T00:01:00Z",
    }
    assert base64.b64decode(second["body_base64"]) == b"\xff\x00binary" and "body" not in second
    assert second["headers"] == [["content-type", "audio/mpeg"]]  # never set-cookie
    assert list(first) == sorted(first)  # sorted keys: a re-recording is a small diff


def test_an_export_names_its_file_after_the_proxy(api, proxy):
    response = api.get(f"/api/v1/proxies/{proxy.id}/cache/export")
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == 'attachment; filename="dev.rubberduck.jsonl"'
    assert [orjson.loads(line)["entries"] for line in b"".join(response.streaming_content).splitlines()] == [0]


def test_it_never_stores_a_credential_query_parameter_in_a_path():
    assert safe_path("/v1beta/models/m:generateContent", "alt=sse&key=AIza-secret") == (
        "/v1beta/models/m:generateContent?alt=sse"
    )
    assert safe_path("/openai/deployments/d/chat/completions", "api-version=2024-10-21&api-key=k&sig=s") == (
        "/openai/deployments/d/chat/completions?api-version=2024-10-21"
    )
    assert safe_path("/p", "X-Amz-Signature=s&X-Amz-Credential=c&access_token=t&my_secret=x") == "/p"


def recording(*entries, provider="openai", key_version=KEY_VERSION_NAME, count=None) -> bytes:
    header = {"rubberduck_recording": 1, "provider": provider, "key_version": key_version,
              "exported_at": "2026-01-02T00:00:00Z", "entries": len(entries) if count is None else count}  # fmt: skip
    lines = [header, *entries]
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines) + b"\n"


def entry(n, **fields):
    return {"key": key(n), "method": "POST", "path": "/v1/chat/completions", "model": "gpt-4o-mini", "status": 200,
            "headers": [["content-type", "application/json"]], "body": f'{{"n": {n}}}', "chunks": None,
            "usage": None, "recorded_at": "2026-01-01T00:00:00Z", **fields}  # fmt: skip


def post(api, proxy, body: bytes, content_type="application/x-ndjson"):
    return api.post(f"/api/v1/proxies/{proxy.id}/cache/import", data=body, content_type=content_type)


def test_it_imports_a_file_and_counts_added_replaced_and_unchanged(api, proxy):
    first = post(api, proxy, recording(entry(1), entry(2), entry(3)))
    assert first.status_code == 200 and first.json() == {"added": 3, "replaced": 0, "unchanged": 0}
    again = post(api, proxy, export(api, proxy), content_type="application/json")  # its own export: the same
    assert again.json() == {"added": 0, "replaced": 0, "unchanged": 3}
    changed = post(api, proxy, recording(entry(1), entry(2, body='{"n": 22}'), entry(4)))
    assert changed.json() == {"added": 1, "replaced": 1, "unchanged": 1}

    rows = {e.key: e for e in CacheEntry.objects.filter(proxy=proxy)}
    assert sorted(rows) == [key(1), key(2), key(3), key(4)]
    assert bytes(rows[key(2)].body) == b'{"n": 22}' and rows[key(2)].created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert rows[key(4)].model == "gpt-4o-mini" and rows[key(4)].size == len(b'{"n": 4}')


def test_it_imports_streams_and_binary_bodies_as_they_were_exported(api, proxy, user):
    body = b"data: 1\n\ndata: 2\n\n"
    stored(proxy, 1, body=body, chunks=[[0.0, 9], [31.5, 9]], stream=True)
    stored(proxy, 2, body=b"\xff\xfe")
    other = ProxyFactory(owner=user, provider="openai")
    assert post(api, other, export(api, proxy)).json() == {"added": 2, "replaced": 0, "unchanged": 0}
    rows = {e.key: e for e in CacheEntry.objects.filter(proxy=other)}
    assert bytes(rows[key(1)].body) == body and rows[key(1)].chunks == [[0.0, 9], [31.5, 9]] and rows[key(1)].stream
    assert bytes(rows[key(2)].body) == b"\xff\xfe" and not rows[key(2)].stream


def test_it_takes_a_file_as_a_multipart_upload(api, proxy):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("dev.rubberduck.jsonl", recording(entry(1)), content_type="application/x-ndjson")
    response = api.post(f"/api/v1/proxies/{proxy.id}/cache/import", {"file": upload}, format="multipart")
    assert response.status_code == 200 and response.json() == {"added": 1, "replaced": 0, "unchanged": 0}
    without = api.post(f"/api/v1/proxies/{proxy.id}/cache/import", {"other": "x"}, format="multipart")
    assert without.status_code == 400 and "`file`" in without.json()["detail"] and without.json()["code"] == "invalid"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"", 1, "header line is required"),
        (b'{"rubberduck_recording": 2}\n', 1, "not a Rubberduck recording"),
        (recording(provider="anthropic"), 1, "provider 'anthropic'"),
        (recording(key_version="rk0"), 1, "key_version 'rk0'"),
        (recording(entry(1), b"{not json"), 3, "not JSON"),
        (recording(entry(1), b"[1, 2]"), 3, "JSON object"),
        (recording({k: v for k, v in entry(1).items() if k != "status"}), 2, "missing field(s): status"),
        (recording({k: v for k, v in entry(1).items() if k != "body"}), 2, "missing field(s): body"),
        (recording(entry(1, extra=1)), 2, "unknown field(s): extra"),
        (recording(entry(1, status="200")), 2, "status must be"),
        (recording(entry(1, key="abc")), 2, "key must be"),
        (recording(entry(1, headers=[["a"]])), 2, "headers must be"),
        (recording({**entry(1), "body_base64": "AAA"}), 2, "exclusive"),
        (recording({**{k: v for k, v in entry(1).items() if k != "body"}, "body_base64": "A=B"}), 2, "not base64"),
        (recording(entry(1, chunks=[[0, 1]])), 2, "do not add up"),
        (recording(entry(1, chunks="x")), 2, "chunks must be"),
        (recording(entry(1, usage={"tokens": 1})), 2, "usage must be"),
        (recording(entry(1, usage={"input_tokens": "3"})), 2, "usage must be"),
        (recording(entry(1, model="a\x00b")), 2, "NUL"),
        (recording(entry(1, recorded_at="yesterday")), 2, "recorded_at must be"),
        (recording(entry(1), entry(1)), 3, "in the file twice"),
        (recording(entry(1), count=2), 3, "announces 2 entries, the file has 1"),
    ],
)
def test_it_refuses_a_broken_file_with_its_line_and_imports_nothing(api, proxy, body, line, reason):
    stored(proxy, 9)
    response = post(api, proxy, body)  # a broken line after good ones: none of them is written either
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid" and answer["line"] == line, answer
    assert reason in answer["detail"] and answer["detail"].startswith(f"Line {line}: "), answer["detail"]
    assert list(CacheEntry.objects.filter(proxy=proxy).values_list("key", flat=True)) == [key(9)]


def test_an_import_is_all_or_nothing_over_many_batches(api, proxy):
    good = [entry(n) for n in range(1, 1201)]  # more than one batch written before the broken line
    response = post(api, proxy, recording(*good, entry(5000, status=99)))
    assert response.status_code == 400 and response.json()["line"] == 1202
    assert CacheEntry.objects.filter(proxy=proxy).count() == 0
    assert post(api, proxy, recording(*good)).json()["added"] == 1200
