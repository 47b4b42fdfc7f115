"""The target's field rules on the values about to be sent: each broken rule is a reason, '' otherwise."""

from __future__ import annotations

import pandas as pd
import pytest

from migrator.compile.field_rules import FieldRule, RecordTypes, check_values, resolve_record_types


def reasons(values: list[str], rule: FieldRule) -> list[str]:
    return check_values(pd.Series(values, dtype="str"), rule).tolist()


def test_text_length_counts_characters_not_bytes():
    rule = FieldRule("City", "text", max_length=5)
    assert reasons(["Paris", "Zürich", "", "#N/A", "Köln"], rule) == [
        "", "6 characters, but City takes at most 5", "", "", ""]


def test_cents_to_a_currency_field_of_scale_zero_are_flagged_not_rounded():
    rule = FieldRule("AnnualRevenue", "number", precision=18, scale=0)
    got = reasons(["1200", "1200.00", "1200.50", "-0.5", "abc", "1e3"], rule)
    assert got[:2] == ["", ""]  # trailing zeros are no decimals
    assert got[2] == got[3] == "has decimals, but AnnualRevenue keeps whole numbers (the org would round it)"
    assert got[4] == got[5] == "not a number"


def test_precision_and_scale():
    rule = FieldRule("Score__c", "number", precision=5, scale=2)
    assert reasons(["999.99", "1000.00", "0.123", "-12.5", "+001.5"], rule) == [
        "", "too many digits: Score__c holds at most 3 before the decimal point",
        "3 decimal places, but Score__c keeps 2 (the org would round it)", "", ""]
    integer = FieldRule("NumberOfEmployees", "integer", precision=3, scale=0)
    assert reasons(["999", "1000", "12.0", "12.5"], integer) == [
        "", "too many digits: NumberOfEmployees holds at most 3 before the decimal point", "", "not a whole number"]


def test_restricted_picklists_and_each_item_of_a_multi_select():
    single = FieldRule("Rating", "picklist", allowed=("Hot", "Warm"))
    assert reasons(["Hot", "hot", "Cold", ""], single) == [
        "", "'hot' is not a value of the restricted picklist Rating (values: Hot, Warm)",
        "'Cold' is not a value of the restricted picklist Rating (values: Hot, Warm)", ""]
    multi = FieldRule("Tags__c", "multipicklist", allowed=("Red", "Green", "Blue"))
    got = reasons(["Red;Green", "Red; Pink;Blue", "Blue"], multi)
    assert got == ["", "'Pink' is not a value of the restricted picklist Tags__c (values: Red, Green, Blue)", ""]


@pytest.mark.parametrize(("kind", "good", "bad", "reason"), [
    ("email", ["a.b+c@example.co.uk"], ["a@b", "no at", "a@@b.com"], "not a valid email address"),
    ("phone", ["+1 (212) 555-0100", "030 1234 5678 x12", "+81 3-0000-0000"], ["call me", "555-CALL"],
     "not a phone number"),
    ("url", ["globex.example.com", "https://x.example/path?q=1"], ["not a url", "http://"], "not a URL"),
    ("date", ["2026-02-28", "1700-01-01", "4000-12-31"], ["1699-12-31", "2026-13-01", "28/02/2026"], None),
    ("datetime", ["2026-02-28T10:00:00.000Z", "2026-02-28T10:00:00+02:00"], ["4001-01-01T00:00:00Z", "yesterday"],
     None),
    ("boolean", ["true", "FALSE", "1", "0"], ["yes", "maybe"], "not a checkbox value (true or false)"),
    ("id", ["001000000000001AAA", "001000000000001"], ["001", "not-an-id-at-all!!"], None),
])
def test_shapes(kind, good, bad, reason):
    rule = FieldRule("F", kind, max_length=255 if kind in ("email", "phone", "url") else None)
    assert reasons(good, rule) == [""] * len(good)
    found = reasons(bad, rule)
    assert all(found), found
    if reason:
        assert set(found) == {reason}


def test_dates_outside_salesforce_range_say_so():
    found = reasons(["1699-12-31"], FieldRule("D", "date"))
    assert found == ["date outside Salesforce's range 1700-01-01..4000-12-31"]


def test_required_fields_refuse_blanks_on_insert_and_not_null_fields_refuse_clearing():
    assert reasons(["x", "", "#N/A"], FieldRule("Name", "text", required=True)) == [
        "", "Name is required on create, and this row creates a record",
        "Name is required: the org refuses to clear it (#N/A)"]
    assert reasons(["x", "", "#N/A"], FieldRule("Name", "text", not_null=True)) == [
        "", "", "Name is required: the org refuses to clear it (#N/A)"]


def test_record_types_by_developer_name():
    types = RecordTypes("Account", {"Enterprise": "012000000000001AAA", "SMB": "012000000000002AAA"})
    values, errors = resolve_record_types(pd.Series(["enterprise", "SMB", "", "Retail", "#N/A"], dtype="str"), types)
    assert values.tolist() == ["012000000000001AAA", "012000000000002AAA", "", "Retail", "#N/A"]
    assert errors.tolist() == ["", "", "", "no record type with this DeveloperName on Account (known: Enterprise, SMB)",
                               ""]
    names_only = RecordTypes("Account", {"Enterprise": None})
    values, errors = resolve_record_types(pd.Series(["Enterprise"], dtype="str"), names_only)
    assert values.tolist() == ["Enterprise"] and errors.tolist() == [""]
