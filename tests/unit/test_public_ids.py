"""The random ids that leave the server (public ids of copies and pages) and the copies' anonymous codes."""
import collections

from viatique_xblock import public_ids
from viatique_xblock.scanning import codes


def test_a_public_id_is_16_characters_of_its_alphabet_each_as_likely_and_parses_back():
    ids = [public_ids.new() for _ in range(20000)]
    assert all(len(value) == public_ids.LENGTH == 16 and set(value) <= set(public_ids.ALPHABET) for value in ids)
    assert len(set(ids)) == len(ids)
    assert all(public_ids.parse(value.upper()) == value for value in ids[:100])
    counts = collections.Counter(letter for value in ids for letter in value)
    expected = len(ids) * public_ids.LENGTH / len(public_ids.ALPHABET)  # 10,000 each; a sigma is about 100
    assert set(counts) == set(public_ids.ALPHABET)
    assert all(abs(count - expected) < 0.1 * expected for count in counts.values()), counts


def test_an_anonymous_code_is_5_characters_of_its_unambiguous_alphabet_each_as_likely():
    drawn = [codes.new_code() for _ in range(20000)]
    assert all(len(code) == codes.LENGTH == 5 and set(code) <= set(codes.ALPHABET) for code in drawn)
    counts = collections.Counter(letter for code in drawn for letter in code)
    expected = len(drawn) * codes.LENGTH / len(codes.ALPHABET)  # 4,000 each; a sigma is about 62
    assert set(counts) == set(codes.ALPHABET)
    assert all(abs(count - expected) < 0.1 * expected for count in counts.values()), counts
    # every position too (a code's digits are drawn at once): no position keeps to part of the alphabet
    for position in range(codes.LENGTH):
        assert len({code[position] for code in drawn}) == len(codes.ALPHABET)
