"""The cache key is one pure function: what identifies a request, and nothing volatile."""

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
