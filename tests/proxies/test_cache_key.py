"""The cache key is one pure function: what identifies a request, and nothing volatile."""

import httpx
import pytest

from proxies.cache_key import cache_key, canonical_body


def key(body=b"{}", method="POST", path="/v1/chat/completions", query=(), headers=()):
    return cache_key(method, path, list(query), list(headers), body)


def test_it_ignores_key_order_and_whitespace():
    assert key(b'{"a": 1, "b": {"y": 2, "x": [1, 2]}}') == key(b'{"b":{"x":[1,2],"y":2},"a":1}')


def test_it_keeps_array_order_and_values_significant():
    assert key(b'{"a": [1, 2]}') != key(b'{"a": [2, 1]}')
    assert key(b'{"a": 1}') != key(b'{"a": 2}')
    assert key(b'{"t": 0.1}') != key(b'{"t": 0.2}')


def test_it_treats_unicode_escapes_and_literals_alike():
    assert key('{"q": "héllo ✓"}'.encode()) == key(b'{"q": "h\\u00e9llo \\u2713"}')


def test_it_keys_floats_by_value():
    assert key(b'{"t": 1.0}') == key(b'{"t": 1.00}')


@pytest.mark.parametrize("body", [b"not json", b"\x00\xffbinary", b'{"a": 1', b"   "])
def test_it_keys_a_non_json_body_on_its_raw_bytes(body):
    assert canonical_body(body) == body
    assert key(body) == key(body) and key(body) != key(body + b"x")


def test_it_keys_huge_integers_on_raw_bytes_instead_of_failing():
    body = b'{"n": 123456789012345678901234567890}'
    assert key(body) == key(body) != key(b'{"n": 1}')


def test_method_path_query_and_version_headers_all_count():
    base = key()
    assert key(method="GET") != base
    assert key(path="/v1/embeddings") != base
    assert key(query=[("api-version", "2024-10-21")]) != key(query=[("api-version", "2025-01-01")])
    assert key(headers=[("anthropic-version", "2023-06-01")]) != key(headers=[("anthropic-version", "2026-10-21")])


def test_query_pairs_and_headers_cannot_be_confused_by_separators():
    assert key(query=[("a", "b=c")]) != key(query=[("a=b", "c")])
    assert key(query=[("a", "1")]) != key(headers=[("a", "1")])


def test_header_names_are_case_insensitive_and_order_free():
    assert key(headers=[("Anthropic-Beta", "x"), ("anthropic-version", "1")]) == key(
        headers=[("anthropic-version", "1"), ("anthropic-beta", "x")]
    )


def test_an_empty_body_differs_from_an_empty_object():
    assert key(b"") != key(b"{}")


def test_the_key_is_versioned_sha256_hex():
    value = key()
    assert len(value) == 64 and int(value, 16) >= 0


def test_a_key_never_changes_for_the_same_request_across_releases():
    # Stored entries are found by this value: a refactor that changes it silently empties every cache
    # (bump KEY_VERSION instead when the normalisation must change).
    assert (
        key(
            b'{"model":"m","messages":[]}',
            query=[("api-version", "2024-10-21")],
            headers=[("anthropic-version", "2023-06-01")],
        )
        == "cc4af51ec25f08c718d5b3588692d94e463fd692d6ab59027bd749934c4ac6f4"
    )


def form(fields=(("model", "gpt-4o-transcribe"),), files=(("file", ("a.mp3", b"ID3 audio", "audio/mpeg")),)):
    """A multipart/form-data body as httpx (the SDKs' client) writes it: a fresh random boundary every time."""
    request = httpx.Request("POST", "http://x/v1/audio/transcriptions", data=dict(fields), files=list(files))
    return request.read(), request.headers["content-type"]


def form_key(body_and_type):
    body, content_type = body_and_type
    return cache_key("POST", "/v1/audio/transcriptions", [], [], body, content_type=content_type)


def test_a_form_is_keyed_on_its_parts_not_on_its_random_boundary():
    first, second = form(), form()
    assert first[1] != second[1] and first[0] != second[0]  # a new boundary each time
    assert form_key(first) == form_key(second)


def test_every_part_of_a_form_counts():
    base = form_key(form())
    assert form_key(form(files=[("file", ("a.mp3", b"other audio", "audio/mpeg"))])) != base
    assert form_key(form(files=[("file", ("b.mp3", b"ID3 audio", "audio/mpeg"))])) != base
    assert form_key(form(files=[("file", ("a.mp3", b"ID3 audio", "audio/wav"))])) != base
    assert form_key(form(fields=[("model", "whisper-1")])) != base
    assert form_key(form(fields=[("model", "gpt-4o-transcribe"), ("language", "en")])) != base


def test_form_fields_are_order_free_but_a_repeated_fields_order_counts():
    a = form(fields=[("model", "m"), ("language", "en")])
    b = form(fields=[("language", "en"), ("model", "m")])
    assert form_key(a) == form_key(b)
    names = form(fields=[("known_speaker_names[]", ["ada", "bob"])])
    swapped = form(fields=[("known_speaker_names[]", ["bob", "ada"])])
    assert form_key(names) != form_key(swapped)  # they pair with known_speaker_references[] by position


def test_a_malformed_form_is_keyed_on_its_raw_bytes():
    body = b"--x\r\nContent-Disposition: form-data; name=model\r\n\r\nwhisper-1"  # no closing boundary
    assert form_key((body, "multipart/form-data; boundary=x")) == key(body, path="/v1/audio/transcriptions")
    assert form_key((body, "multipart/form-data; boundary=x")) != form_key(
        (body + b"!", "multipart/form-data; boundary=x")
    )


def test_a_form_never_shares_a_key_with_a_raw_body():
    body, content_type = form()
    assert form_key((body, content_type)) != form_key((body, "application/octet-stream"))


def test_it_keys_a_body_over_a_mebibyte_on_its_bytes_as_sent():
    """Its canonical form would be a third copy in memory; an SDK repeats it byte for byte anyway."""
    text = "x" * (1 << 20)
    compact, spaced = f'{{"a":1,"q":"{text}"}}'.encode(), f'{{"q": "{text}", "a": 1}}'.encode()
    assert canonical_body(compact) is compact
    assert key(compact) == key(compact) != key(spaced)
    small = f'{{"a":1,"q":"{text[:1000]}"}}'.encode()
    assert key(small) == key(f'{{"q": "{text[:1000]}", "a": 1}}'.encode())  # below it, still canonical
