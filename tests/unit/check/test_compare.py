"""Rows against the target's current records: values compared as the org understands them."""

from __future__ import annotations

import pandas as pd

from migrator.check.compare import Column, classify, normalise, text
from migrator.check.current import id18


def S(values):
    return pd.Series(values, dtype="str")


def test_numbers_compare_by_value():
    sent = ["1200000.00", "1.2E6", "-0.0", "007.50", "abc", "12345678901234567.5", "12345678901234567.5", "7"]
    now = ["1200000", "1200000.0", "0", "7.5", "abc", "12345678901234567.50", "12345678901234567.4", "7.01"]
    rows = pd.DataFrame({"K": S([f"k{i}" for i in range(len(sent))]), "N": S(sent)})
    current = pd.DataFrame({"K": S([f"k{i}" for i in range(len(sent))]), "N": S(now)})
    outcome = classify(rows, "K", current.assign(__match=current["K"]), [Column("N", "N", "number")],
                       operation="upsert").tolist()
    # beyond 15 significant digits the decimals are compared exactly, not as doubles
    assert outcome == ["unchanged"] * 6 + ["update", "update"]


def test_datetimes_compare_as_instants_and_dates_by_day():
    got = normalise(S(["2026-01-05T10:00:00.000Z", "2026-01-05T12:00:00+02:00", "2026-01-05T10:00:01Z", ""]),
                    "datetime").tolist()
    assert got[0] == got[1] != got[2] and got[3] == ""
    assert normalise(S(["2026-01-05", "2026-01-05T00:00:00.000Z"]), "date").tolist() == ["2026-01-05"] * 2


def test_checkboxes_picklists_and_multi_selects():
    assert normalise(S(["true", "1", "false", "0", ""]), "boolean").tolist() == ["true", "true", "false", "false",
                                                                                  "false"]
    assert normalise(S(["Hot", "hot"]), "folded").tolist() == ["hot", "hot"]
    assert normalise(S(["Red;Blue", "blue; red;Red", ""]), "multipicklist").tolist() == ["blue;red", "blue;red", ""]


def test_ids_in_their_18_character_form():
    assert id18(S(["001000000000001", "001000000000001AAA", "0015e00000AbCdE"])).tolist() == [
        "001000000000001AAA", "001000000000001AAA", "0015e00000AbCdEAAV"]


def _current(**columns):
    frame = pd.DataFrame({k: S(v) for k, v in columns.items()})
    return frame.assign(__match=frame["Legacy_Id__c"].str.lower())


def test_classify_creates_updates_and_unchanged_rows():
    rows = pd.DataFrame({"Legacy_Id__c": S(["a1", "A2", "a3", "a4", "a5", "a6"]),
                         "Amount": S(["10.00", "10", "11", "", "#N/A", "10"]),
                         "Account.Legacy_Id__c": S(["P1", "p1", "P1", "P1", "P1", "P2"])})
    current = _current(Legacy_Id__c=["A1", "a2", "A3", "A4", "A5", "A6"], Amount=["10", "10.0", "10", "10", "10", "10"],
                       **{"Account.Legacy_Id__c": ["p1", "P1", "P1", "P1", "P1", "P1"]})
    columns = [Column("Amount", "Amount", "number"), Column("Account.Legacy_Id__c", "Account.Legacy_Id__c", "key")]
    outcome = classify(rows, "Legacy_Id__c", current.iloc[:5], columns, operation="upsert").tolist()
    # a blank leaves the field as it is; #N/A clears a field that has a value; a6 is not in the org
    assert outcome == ["unchanged", "unchanged", "update", "unchanged", "update", "create"]
    assert classify(rows, "Legacy_Id__c", current, columns, operation="upsert").tolist()[5] == "update"
    assert classify(rows, "Legacy_Id__c", current.iloc[:2], columns, operation="update").tolist()[2:] == [
        "not_found"] * 4
    assert classify(rows, "Legacy_Id__c", current.iloc[:1], [], operation="delete").tolist()[:2] == [
        "delete", "not_found"]


def test_polymorphic_columns_compare_the_parents_ids():
    rows = pd.DataFrame({"Legacy_Id__c": S(["t1", "t2", "t3"]),
                         "Account:What.Legacy_Id__c": S(["ACC-1", "ACC-2", "ACC-NEW"])})
    current = _current(Legacy_Id__c=["t1", "t2", "t3"], WhatId=["001000000000001AAA"] * 3)
    ids = (text(S(["acc-1", "acc-2"])), text(S(["001000000000001AAA", "001000000000002AAA"])))
    outcome = classify(rows, "Legacy_Id__c", current, [Column("Account:What.Legacy_Id__c", "WhatId", "id", ids)],
                       operation="upsert")
    assert outcome.tolist() == ["unchanged", "update", "update"]  # ACC-NEW does not exist yet: a change for sure


def test_a_column_the_org_cannot_show_counts_as_a_change_when_given():
    rows = pd.DataFrame({"Legacy_Id__c": S(["a", "b"]), "Body": S(["data", ""])})
    outcome = classify(rows, "Legacy_Id__c", _current(Legacy_Id__c=["a", "b"]), [Column("Body", None, "text")],
                       operation="upsert")
    assert outcome.tolist() == ["update", "unchanged"]
