"""Column-wise value conversion and its per-field errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from migrator.localorg.orgschema import FieldDef, PicklistValue
from migrator.localorg.values import convert_column, parse_datetime


def _convert(f: FieldDef, values: list[str], prefixes=frozenset()):
    result = convert_column(f, pa.array(values, pa.string()), prefixes)
    errors = dict(zip(result.error_rows, result.error_messages, strict=True))
    return result.values.tolist(), result.given.tolist(), errors


def test_empty_means_not_given_and_na_means_null():
    values, given, errors = _convert(FieldDef(name="Site", type="string", length=10), ["x", "", "#N/A"])
    assert (values[0], values[2], given, errors) == ("x", None, [True, False, True], {})


def test_text_length_and_email():
    _, _, errors = _convert(FieldDef(name="Code__c", type="string", label="Code", length=3), ["abc", "abcd", "é€ab"])
    assert errors == {1: "STRING_TOO_LONG:Code: data value too large: abcd (max length=3):Code__c --",
                      2: "STRING_TOO_LONG:Code: data value too large: é€ab (max length=3):Code__c --"}
    _, _, errors = _convert(FieldDef(name="Email", type="email", length=80), ["a@b.co", "a@b", "a b@c.de", "x"])
    assert sorted(errors) == [1, 2, 3]


def test_picklists():
    values = (PicklistValue("Red", "Red"), PicklistValue("Blue", "Blue"), PicklistValue("Old", "Old", active=False))
    restricted = FieldDef(name="Color__c", type="picklist", label="Color", picklist_values=values,
                          restricted_picklist=True, length=255)
    _, _, errors = _convert(restricted, ["Red", "red", "Old", "Green"])
    assert sorted(errors) == [1, 2, 3]
    assert errors[3] == ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Color: bad value for restricted picklist field: "
                         "Green:Color__c --")
    open_list = FieldDef(name="Color__c", type="picklist", picklist_values=values, length=255)
    assert _convert(open_list, ["Green"])[2] == {}
    multi = FieldDef(name="Tags__c", type="multipicklist", picklist_values=values, restricted_picklist=True,
                     length=4099)
    stored, _, errors = _convert(multi, ["Red;Blue;Red", " Blue ; Red ", "Red;Pink"])
    assert stored[:2] == ["Red;Blue", "Blue;Red"] and list(errors) == [2]


@pytest.mark.parametrize(("kind", "raw", "stored"), [
    ("boolean", ["true", "FALSE", "1", "0", "#N/A"], [1, 0, 1, 0, 0]),
    ("int", ["42", "-7", "+0008"], [42, -7, 8]),
    ("double", ["1.5", "-2e3", ".25"], [1.5, -2000.0, 0.25]),
    ("date", ["2024-02-29", "2024-01-05Z", "1999-12-31T10:00:00Z"], ["2024-02-29", "2024-01-05", "1999-12-31"]),
    ("datetime", ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.678-02:30", "2024-01-02", "2024-01-02T03:04+0100"],
     ["2024-01-02T03:04:05.000Z", "2024-01-02T05:34:05.678Z", "2024-01-02T00:00:00.000Z",
      "2024-01-02T02:04:00.000Z"]),
])
def test_typed_values(kind, raw, stored):
    values, _, errors = _convert(FieldDef(name="F", type=kind, precision=18, scale=4), raw)
    assert (values, errors) == (stored, {})


@pytest.mark.parametrize(("kind", "bad"), [
    ("boolean", ["yes", "2", "t"]),
    ("int", ["1.0", "1e3", "x", "--1"]),
    ("double", ["1,5", "e3", "NaN", "inf"]),
    ("date", ["2023-02-29", "24-01-01", "2024/01/01", "2024-1-1"]),
    ("datetime", ["2024-01-02 03:04:05", "2024-13-01T00:00:00Z", "noon", "2024-01-02T25:00:00Z"]),
])
def test_bad_typed_values(kind, bad):
    _, _, errors = _convert(FieldDef(name="F", type=kind, label="Label", precision=18), bad)
    assert sorted(errors) == list(range(len(bad)))
    prefix = "INVALID_TYPE_ON_FIELD_IN_RECORD:Label: value not of required type: "
    assert all(e.startswith(prefix) for e in errors.values())


def test_numbers_round_to_the_field_scale_like_salesforce():
    values, _, _ = _convert(FieldDef(name="N", type="double", precision=18, scale=0), ["1.5", "2.4", "-2.5"])
    assert values == [2.0, 2.0, -3.0]


def test_number_ranges_and_half_up_rounding():
    f = FieldDef(name="Amount", type="currency", label="Amount", precision=5, scale=2)
    values, _, errors = _convert(f, ["999.99", "1000", "-999.995", "12.345", "-12.345", "0.005"])
    assert values[0] == 999.99 and values[3:] == [12.35, -12.35, 0.01]
    assert errors == {1: "NUMBER_OUTSIDE_VALID_RANGE:Amount: value outside of valid range on numeric field: "
                         "1000:Amount --"}
    assert _convert(FieldDef(name="N", type="int", precision=3), ["999", "1000"])[2].keys() == {1}


def test_lookup_ids_are_normalised_and_prefix_checked():
    f = FieldDef(name="AccountId", type="reference", label="Account ID", reference_to=("Account",))
    values, _, errors = _convert(f, ["001D000000IqhSL", "001D000000IqhSLIAZ", "003D000000IqhSL", "x"],
                                 frozenset({"001"}))
    assert values[:2] == ["001D000000IqhSLIAZ"] * 2
    assert errors == {2: "MALFORMED_ID:Account ID: id value of incorrect type: 003D000000IqhSL:AccountId --",
                      3: "MALFORMED_ID:Account ID: id value of incorrect type: x:AccountId --"}


def test_parse_datetime_forms():
    assert parse_datetime("2002-10-10T12:00:00+05:00") == "2002-10-10T07:00:00.000Z"
    assert parse_datetime("2002-10-10T12:00:00.123456Z") == "2002-10-10T12:00:00.123Z"
    assert parse_datetime("2002-10-10T12:00:00-08") == "2002-10-10T20:00:00.000Z"
    assert parse_datetime("20021010T120000Z") is None
