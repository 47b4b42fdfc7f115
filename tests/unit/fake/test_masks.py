"""Masks: deterministic under one secret, different under another, shapes kept, secret never shown."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from migrator.errors import UsageError
from migrator.fake.masks import Masker, MaskKey
from migrator.plan.fakespec import MaskSpec

SECRET = "unit-test-secret-0123456789"
KEY = MaskKey.from_text(SECRET, "TEST_SECRET")
EMAILS = pd.Series(["Ann.Lee@Acme.com", "bob@x.org", " ann.lee@acme.com", "carla@mail.acme.co.uk"], dtype="str")


def mask(kind: str, values: pd.Series, key: MaskKey = KEY, **options) -> list[str]:
    return Masker(MaskSpec(kind=kind, **options), key)(values).tolist()


def test_an_email_keeps_its_domain_and_maps_the_same_person_the_same_way():
    masked = mask("email", EMAILS)
    assert [m.split("@")[1] for m in masked] == ["acme.com", "x.org", "acme.com", "mail.acme.co.uk"]
    assert masked[0] == masked[2]  # case and spaces do not make another person
    assert len(set(masked)) == 3
    assert all(m.split("@")[0] not in ("ann.lee", "bob", "carla") for m in masked)
    # another object's column with the same people: the same fake addresses, by value, not position
    other = pd.Series(["carla@mail.acme.co.uk", "ANN.LEE@ACME.COM"], index=[10, 20], dtype="str")
    assert Masker(MaskSpec(kind="email"), KEY)(other).to_dict() == {10: masked[3], 20: masked[0]}


def test_an_email_can_get_a_safe_domain_and_a_value_without_one_gets_example_com():
    assert [m.split("@")[1] for m in mask("email", EMAILS, domain="example.org")] == ["example.org"] * 4
    assert mask("email", pd.Series(["not-an-address"]))[0].endswith("@example.com")


def test_another_secret_gives_other_masks_and_the_key_id_reveals_nothing():
    other = MaskKey.from_text("another-secret-abcdefghij", "TEST_SECRET")
    assert set(mask("email", EMAILS, other)).isdisjoint(mask("email", EMAILS))
    assert KEY.key_id != other.key_id and len(KEY.key_id) == 12
    assert SECRET not in repr(KEY) and SECRET not in KEY.key_id
    assert MaskKey.from_text(SECRET, "ELSEWHERE").key_id == KEY.key_id


def test_a_short_secret_is_refused():
    with pytest.raises(UsageError, match="too short"):
        MaskKey.from_text("short", "MIGRATOR_MASK_SECRET")


def test_a_phone_keeps_its_format_and_country_code():
    phones = pd.Series(["+1 (555) 123-4567", "0612345678", "555.123.4567 ext 12", "+1 555 123 4567"])
    masked = mask("phone", phones)
    assert masked[0].startswith("+1 (") and masked[0][4:7] != "555"
    assert [len(m) for m in masked] == [len(p) for p in phones]
    assert all(a.isdigit() == b.isdigit() for p, m in zip(phones, masked, strict=True) for a, b in zip(p, m,
                                                                                                    strict=True))
    assert masked[1].startswith("0") and masked[2].endswith(" ext " + masked[2][-2:])
    assert re.sub(r"\D", "", masked[0]) == re.sub(r"\D", "", masked[3])  # the same digits, the same number


def test_names_streets_hashes_redactions_and_faker_masks():
    people = pd.Series(["Ann Lee", "Bob Stone", "ann lee"])
    names = mask("name", people)
    assert names[0] == names[2] and names[0] != "Ann Lee" and len(names[0].split(" ")) >= 2
    assert mask("first_name", people)[0] == mask("first_name", people)[2]
    assert mask("street", pd.Series(["1 Main St"]))[0] != "1 Main St"
    hashes = mask("hash", pd.Series(["123-45-6789", "123-45-6789", "987-65-4321"]))
    assert hashes[0] == hashes[1] != hashes[2] and all(len(h) == 16 and int(h, 16) >= 0 for h in hashes)
    assert mask("redact", people) == ["REDACTED"] * 3
    assert mask("redact", people, text="***") == ["***"] * 3
    assert mask("null", people) == ["", "", ""]
    companies = mask("fake", pd.Series(["Acme", "Globex", "Acme"]), provider="company")
    assert companies[0] == companies[2] and "Acme" not in companies


def test_the_hash_mask_is_the_same_bits_in_every_release():
    # masks must map the same way in every run: a change here would re-mask every copied org
    assert mask("hash", pd.Series(["123-45-6789"])) == ["a588e5c9a66ee0c8"]


def test_an_empty_column_masks_to_an_empty_column():
    assert Masker(MaskSpec(kind="email"), KEY)(pd.Series([], dtype="str")).empty
