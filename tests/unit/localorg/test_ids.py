"""Salesforce Ids: checksum suffix, normalisation, vectorised allocation."""

from __future__ import annotations

import pytest

from migrator.localorg.ids import checksum_suffix, id_counter, make_id, make_ids, normalize_id


@pytest.mark.parametrize(("id15", "suffix"), [
    ("001000000000000", "AAA"),  # no capitals anywhere
    ("0015000000ZzZzZ", "AAV"),  # chunk 3: capitals at 0, 2, 4 -> 1 + 4 + 16 = 21 -> V
    ("00DABCDE0000000", "2HA"),  # chunk 1: 4 + 8 + 16 = 28 -> '2'; chunk 2: 1 + 2 + 4 = 7 -> H
    ("001D000000IqhSL", "IAZ"),  # a real Salesforce Id
])
def test_checksum_suffix_marks_capitals_per_chunk(id15, suffix):
    assert checksum_suffix(id15) == suffix


def test_normalize_accepts_15_and_18_characters_and_rejects_the_rest():
    full = make_id("001", 42)
    assert normalize_id(full) == full
    assert normalize_id(full[:15]) == full
    assert normalize_id(full[:15] + full[15:].lower()) == full, "the suffix is case-insensitive"
    assert normalize_id(full[:15] + "ZZZ") is None
    for bad in ("", "001", full[:14], full + "A", "001-00000000000", "00100000000000é"):
        assert normalize_id(bad) is None


def test_make_ids_are_consecutive_unique_and_checksummed():
    ids = make_ids("003", 62**5 - 3, 7)  # crosses a carry from the low into the high digits
    assert len(set(ids)) == 7
    assert all(len(i) == 18 and i.startswith("003Lo0") and normalize_id(i[:15]) == i for i in ids)
    assert ids[2][6:15] == "0000zzzzz" and ids[3][6:15] == "000100000"
    assert make_ids("001", 1, 0) == []


def test_make_ids_refuses_bad_prefixes_and_counters():
    with pytest.raises(ValueError):
        make_ids("01", 1, 1)
    with pytest.raises(ValueError):
        make_ids("001", 62**9, 1)


def test_id_counter_reads_back_what_make_ids_wrote():
    for counter in (1, 61, 62, 62**5 + 7, 62**9 - 1):
        made = make_ids("750", counter, 1)[0]
        assert id_counter(made) == ("750", counter) and id_counter(made[:15]) == ("750", counter)
    assert id_counter("001000000000000AAA") is None  # not made by a local org
    assert id_counter("not an id") is None
