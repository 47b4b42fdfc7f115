"""Value conversions: each converter on tricky inputs, checked value by value."""

import pandas as pd
import pytest

from migrator.compile import convert


def s(*values: str, index=None) -> pd.Series:
    return pd.Series(list(values), dtype="str", index=index)


def test_dates_from_declared_formats_and_iso():
    out = convert.to_date(s("31/01/2024", "2024-02-29", "13/13/2020", "1/2/99", "1600-01-01"), ["%d/%m/%Y", "%d/%m/%y"])
    assert out.values.tolist()[:4] == ["2024-01-31", "2024-02-29", "", "1999-02-01"]
    assert out.errors.iloc[2].startswith("not a date in format '%d/%m/%Y'")
    assert "outside Salesforce's range" in out.errors.iloc[4]
    assert out.errors.iloc[0] == out.errors.iloc[1] == out.errors.iloc[3] == ""


def test_dates_keep_the_index_and_repeated_values():
    out = convert.to_date(s("2024-01-01", "x", "2024-01-01", index=[10, 20, 30]), [])
    assert out.values.index.tolist() == [10, 20, 30]
    assert out.values.tolist() == ["2024-01-01", "", "2024-01-01"]
    assert out.errors.tolist()[1] == "not a date in format ISO 8601"


def test_datetimes_to_utc_with_zone_offsets_and_dst_gaps():
    values = s("2024-01-15 10:00:00", "2024-07-15 10:00:00", "2024-01-15T10:00:00+02:00", "2024-03-31 02:30:00",
               "2024-10-27 02:30:00", "2024-01-15T10:00:00.123Z", "soon")
    out = convert.to_datetime(values, ["%Y-%m-%d %H:%M:%S"], "Europe/Paris")
    assert out.values.tolist()[:3] == ["2024-01-15T09:00:00.000Z", "2024-07-15T08:00:00.000Z",
                                       "2024-01-15T08:00:00.000Z"]
    assert out.values.iloc[5] == "2024-01-15T10:00:00.123Z"
    assert "does not exist or is ambiguous" in out.errors.iloc[3]   # spring-forward gap
    assert "does not exist or is ambiguous" in out.errors.iloc[4]   # autumn overlap
    assert out.errors.iloc[6].startswith("not a datetime")


@pytest.mark.parametrize(("raw", "expected"), [
    ("1,234.50", "1234.50"), ("(1,000)", "-1000"), ("$ 12", "12"), ("+5", "5"), ("1e3", "1e3"), ("-0.5", "-0.5"),
    ("12 %", "12"), ("\u00a01\u00a0000", "1000"),
])
def test_numbers_normalised(raw, expected):
    out = convert.to_number(s(raw))
    assert (out.values.iloc[0], out.errors.iloc[0]) == (expected, "")


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "$2.4M", "--1", ""])
def test_not_numbers(raw):
    assert convert.to_number(s(raw)).errors.iloc[0] == "not a number"


def test_decimal_comma_and_integers():
    assert convert.to_number(s("1.234,50", "12,5", "1 234,5"), ",").values.tolist() == ["1234.50", "12.5", "1234.5"]
    out = convert.to_number(s("12", "12.0", "12.5", "1,000"), integer=True)
    assert out.values.tolist() == ["12", "12", "", "1000"]
    assert out.errors.tolist() == ["", "", "not a whole number", ""]


def test_booleans_from_usual_spellings():
    out = convert.to_boolean(s("Yes", "n", "TRUE", "0", "x", "maybe"))
    assert out.values.tolist() == ["true", "false", "true", "false", "true", ""]
    assert out.errors.iloc[5].startswith("not a boolean")


def test_picklists_canonical_case_and_rejects():
    out = convert.to_picklist(s("hot", "Warm", "tepid"), ["Hot", "Warm"], ignore_case=True)
    assert out.values.tolist() == ["Hot", "Warm", ""]
    assert out.errors.iloc[2] == "not an allowed value (Hot, Warm)"
    strict = convert.to_picklist(s("hot"), ["Hot"], ignore_case=False)
    assert strict.errors.iloc[0] != ""


def test_multipicklists_split_dedupe_and_validate():
    out = convert.to_multipicklist(s("a; b;a", "c", "B,zz", index=[5, 6, 7]), ["a", "b", "c"], ignore_case=True)
    assert out.values.tolist() == ["a;b", "c", ""]
    assert out.errors.tolist()[:2] == ["", ""]
    assert out.errors.iloc[2].startswith("contains a value that is not allowed")


def test_emails():
    out = convert.to_email(s("a@b.co", "a@b", "a b@c.de", "ü@exämple.de"))
    assert out.errors.tolist() == ["", "not a valid email address", "not a valid email address", ""]


def test_value_maps_with_default_and_case():
    values = s("Tech", "fin", "zzz", "")
    assert convert.apply_map(values, {"tech": "Technology", "FIN": "Finance"}, ignore_case=True,
                             default="Other").tolist() == ["Technology", "Finance", "Other", "Other"]
    assert convert.apply_map(values, {"Tech": "Technology", "zzz": None}, ignore_case=False,
                             default=None).tolist() == ["Technology", "fin", "#N/A", ""]  # null clears


def test_distinct_values_are_converted_once():
    calls = []

    def spy(values):
        calls.append(len(values))
        return convert.Converted.ok(values.str.upper())

    values = s(*(["a", "b"] * 50))
    out = convert.on_distinct(values, spy)
    assert calls == [2]
    assert out.values.tolist() == ["A", "B"] * 50
