"""Joining result files to the rows sent: by key, never by position."""

import pandas as pd

from migrator.run.outcomes import SOURCE_FILE, SOURCE_ROW, classify, exhausted, parse_error


def frame(**columns):
    return pd.DataFrame({k: pd.Series(v, dtype="str") for k, v in columns.items()})


def sent(keys, names):
    return frame(Ext__c=keys, Name=names, **{SOURCE_FILE: ["a.csv"] * len(keys),
                                             SOURCE_ROW: [str(i + 2) for i in range(len(keys))]})


def test_error_strings_split_into_code_message_and_fields():
    parsed = parse_error(pd.Series([
        "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",
        "DUPLICATE_VALUE:duplicate value found: X duplicates value on record with id: 001:--",
        "something odd"], dtype="str"))
    assert parsed.values.tolist() == [
        ["REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", "Name"],
        ["DUPLICATE_VALUE", "duplicate value found: X duplicates value on record with id: 001", ""],
        ["UNKNOWN", "something odd", ""]]


def test_results_in_any_order_are_joined_by_key():
    rows = sent(["K1", "K2", "K3", "K4"], ["a", "b", "c", "d"])
    success = frame(sf__Id=["001B", "001A"], sf__Created=["false", "true"], Ext__c=["K2", "K1"], Name=["b", "a"])
    failed = frame(sf__Id=["", ""], sf__Error=["UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--",
                                              "STRING_TOO_LONG:Name: data value too large:Name --"],
                   Ext__c=["K4", "K3"], Name=["d", "c"])
    outcome = classify(rows, ["Ext__c", "Name"], "Ext__c", success, failed, frame(Ext__c=[], Name=[]),
                       job_state="JobComplete", job_error=None, attempt=1)
    assert outcome.succeeded[["key", "sf_id", "created", "source_row"]].values.tolist() == [
        ["K2", "001B", "false", "3"], ["K1", "001A", "true", "2"]]
    assert outcome.failed[["key", "error_code", "fields", "source_row", "Name"]].values.tolist() == [
        ["K3", "STRING_TOO_LONG", "Name", "4", "c"]]
    assert outcome.retry["Ext__c"].tolist() == ["K4"]
    assert outcome.retry["reason"].iloc[0].startswith("UNABLE_TO_LOCK_ROW")


def test_rows_of_a_failed_job_are_retried_unless_the_file_itself_is_wrong():
    rows = sent(["K1", "K2"], ["a", "b"])
    success = frame(sf__Id=["001A"], sf__Created=["true"], Ext__c=["K1"], Name=["a"])
    empty = frame(sf__Id=[], sf__Error=[], Ext__c=[], Name=[])
    transient = classify(rows, ["Ext__c", "Name"], "Ext__c", success, empty, frame(Ext__c=["K2"], Name=["b"]),
                         job_state="Failed", job_error="InternalServerError : retried more than 10 times", attempt=1)
    assert transient.retry["Ext__c"].tolist() == ["K2"] and transient.failed.empty
    assert "not processed: job Failed" in transient.retry["reason"].iloc[0]
    permanent = classify(rows, ["Ext__c", "Name"], "Ext__c", frame(sf__Id=[], sf__Created=[], Ext__c=[], Name=[]),
                         empty, frame(Ext__c=[], Name=[]), job_state="Failed",
                         job_error="InvalidBatch : Field name not found : Nmae", attempt=1)
    assert permanent.retry.empty
    assert permanent.failed[["key", "error_code"]].values.tolist() == [["K1", "JOB_FAILED"], ["K2", "JOB_FAILED"]]


def test_keyless_inserts_match_on_the_whole_row_one_to_one():
    rows = frame(Name=["same", "same", "other"], **{SOURCE_FILE: ["a.csv"] * 3, SOURCE_ROW: ["2", "3", "4"]})
    success = frame(sf__Id=["001A", "001B"], sf__Created=["true", "true"], Name=["same", "same"])
    failed = frame(sf__Id=[""], sf__Error=["REQUIRED_FIELD_MISSING:Required fields are missing: [X]:X --"],
                   Name=["other"])
    outcome = classify(rows, ["Name"], None, success, failed, frame(Name=[]), job_state="JobComplete",
                       job_error=None, attempt=1)
    assert sorted(outcome.succeeded["source_row"]) == ["2", "3"]
    assert outcome.failed["source_row"].tolist() == ["4"]


def test_exhausted_retries_become_failures_with_the_last_reason():
    retry = sent(["K1"], ["a"]).assign(reason="UNABLE_TO_LOCK_ROW: unable to obtain exclusive access")
    final = exhausted(retry, ["Ext__c", "Name"], "Ext__c", 4)
    assert final[["key", "error_code", "attempts"]].values.tolist() == [["K1", "UNABLE_TO_LOCK_ROW", "4"]]
    assert final["message"].iloc[0].startswith("gave up after 4 attempts: UNABLE_TO_LOCK_ROW")
