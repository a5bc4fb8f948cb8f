"""Made-up answer ids: the shapes providers use, and no repeats."""

import string
import uuid

from providers import ids


def test_uuid4_is_a_standard_version_4_uuid_in_its_text_form():
    for _ in range(1000):
        text = ids.uuid4()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_hex_id_has_two_lower_hex_digits_a_byte_even_when_it_starts_with_zeros():
    found = [ids.hex_id(16) for _ in range(2000)]
    assert all(len(x) == 32 and set(x) <= set("0123456789abcdef") for x in found)
    assert any(x.startswith("0") for x in found)


def test_chars_id_draws_every_character_of_its_alphabet_and_nothing_else():
    alphabet = string.ascii_letters + string.digits
    found = [ids.chars_id(alphabet, 20) for _ in range(2000)]
    assert all(len(x) == 20 for x in found)
    assert set("".join(found)) == set(alphabet)


def test_ids_do_not_repeat():
    for make in (ids.uuid4, lambda: ids.hex_id(16), lambda: ids.chars_id(string.ascii_letters, 20)):
        assert len({make() for _ in range(10_000)}) == 10_000
