"""The planner on awkward sources: row references by line, huge fields, NUL bytes, stray quotes."""

from pathlib import Path

import pytest

from migrator.compile.csvio import read_table
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.compile.sources import read_headers
from migrator.errors import SourceDataError
from migrator.plan.loader import load_plan

PLAN = """version: 1
name: t
sources: {dir: data}
defaults: {external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: name, Description: note}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: last}
    lookups:
      AccountId: {from: account, to: Account, missing: reject}
"""


def compile_sources(tmp_path: Path, accounts: bytes | str, contacts: str = "id,last,account\n"):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "accounts.csv").write_bytes(accounts.encode() if isinstance(accounts, str) else accounts)
    (data / "contacts.csv").write_text(contacts, encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    out = tmp_path / "out"
    plan = load_plan(tmp_path / "plan.yaml", headers=read_headers)
    return compile_plan(plan, PlanOptions(out_dir=out, block_bytes=4096)), out


def test_rejects_missing_parents_and_parts_name_the_physical_line(tmp_path: Path):
    """Issue 10 item 16: `accounts.csv:5` was the record number; with a two-line note it is line 6."""
    accounts = 'id,name,note\nA1,Ann,"two\nlines"\n\nA2,,x\nA3,Cy,\nA3,Dup,\n'
    contacts = "id,last,account\nC1,Smith,A3\nC2,Jones,A404\n"
    manifest, out = compile_sources(tmp_path, accounts, contacts)
    rejects = read_table(out / "rejects.csv")
    assert rejects[["source_file", "source_row", "key", "reason"]].values.tolist() == [
        ["data/accounts.csv", "7", "A3", "duplicate Legacy_Id__c: an earlier row has the same key"],
        ["data/contacts.csv", "3", "C2", "parent Account with Legacy_Id__c = this value is not in the source "
                                         "data (missing: reject)"],
    ]
    missing = read_table(out / "missing_parents.csv")
    assert missing[["source_file", "source_row", "parent_key"]].values.tolist() == [["data/contacts.csv", "3", "A404"]]
    index = read_table(out / "Account" / "part-0001.source.csv")
    assert index["source_row"].tolist() == ["2", "5", "6"]
    assert manifest.summary("Account").source_rows == 4


def test_a_field_of_4_mb_plans_as_a_reject_and_the_rest_of_the_file_plans(tmp_path: Path):
    """Issue 10 item 6: planning crashed with Arrow's 'straddles two block boundaries'."""
    huge = "z" * (4 * 1024 * 1024)
    accounts = f'id,name,note\nA1,Ann,x\nA2,Bob,"{huge}"\nA3,Cy,"after\nit"\nA4,Di,y\n'
    manifest, out = compile_sources(tmp_path, accounts)
    summary = manifest.summary("Account")
    assert (summary.source_rows, summary.rejected, summary.rows) == (4, 1, 3)
    (reject,) = read_table(out / "rejects.csv").to_dict("records")
    assert (reject["source_row"], reject["key"], reject["field"]) == ("3", "A2", "Description")
    assert reject["reason"] == "longer than 131,072 characters, the most a Salesforce field holds"
    assert len(reject["value"]) == len(huge)  # nothing lost
    sent = read_table(out / "Account" / "part-0001.csv")
    assert sent["Legacy_Id__c"].tolist() == ["A1", "A3", "A4"] and sent["Description"].tolist()[1] == "after\nit"
    assert read_table(out / "Account" / "part-0001.source.csv")["source_row"].tolist() == ["2", "4", "6"]


def test_nul_bytes_are_rejected_with_the_reason(tmp_path: Path):
    """Issue 10 item 29: NUL bytes went to the org unchanged."""
    manifest, out = compile_sources(tmp_path, b"id,name,note\nA1,Ann\x00,x\nA2,Bob,y\n")
    (reject,) = read_table(out / "rejects.csv").to_dict("records")
    assert (reject["source_row"], reject["field"], reject["value"]) == ("2", "Name", "Ann\x00")
    assert "NUL byte" in reject["reason"]
    assert manifest.summary("Account").rows == 1


def test_an_unclosed_quote_stops_the_plan_at_the_line_it_opened(tmp_path: Path):
    """Issue 10 item 5: the run exited 0 with the records after a stray quote merged into one value."""
    with pytest.raises(SourceDataError, match=r"^data/accounts\.csv:3: unclosed quote"):
        compile_sources(tmp_path, 'id,name,note\nA1,Ann,x\nA2,Bob,"oops\nA3,Cy,z\nA4,Di,y\n')
    assert not (tmp_path / "out").exists()


def test_swallowed_records_are_warnings_in_the_manifest(tmp_path: Path):
    manifest, _ = compile_sources(tmp_path, 'id,name,note\nA1,Ann,"oops\nA2,Bob,x\nA3,Cy,y"\nA4,Di,z\n')
    assert manifest.warning_count == 1
    (warning,) = manifest.warnings
    assert (warning.file, warning.line) == ("data/accounts.csv", 2)
    assert manifest.to_json()["warnings"]["shown"][0]["line"] == 2
