"""A row whose parent did not load, for any reason, is skipped with that parent's key, recursively:
parents that failed at the server, that were skipped themselves (in a part that also holds failed
rows), and that the plan rejected before sending. Under faults, against the real local org."""

from __future__ import annotations

from pathlib import Path

from migrator.compile.csvio import read_table

PLAN = """version: 1
name: orphans
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: id
      NumberOfEmployees: employees
      AnnualRevenue: {from: revenue, type: number}
    lookups:
      ParentId: {from: parent, to: Account}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: id}
    lookups:
      AccountId: {from: account, to: Account}
"""
# R1 fails at the server ("a dozen" is no number of employees); R2 is rejected before sending (its
# revenue is no number); K3a fails at the server in the same level-1 part in which K1 is skipped.
ACCOUNTS = """id,parent,employees,revenue
R1,,a dozen,1
R2,,5,lots
R3,,5,1
K1,R1,5,1
K2,R2,5,1
K3a,R3,a dozen,1
K3b,R3,5,1
G1,K1,5,1
G3a,K3a,5,1
G3b,K3b,5,1
"""
CONTACTS = """id,account
C1,G1
C2,K2
C3,G3b
C4,R2
C5,G3a
"""
FAULTS = {"lock_rate": 0.2, "seed": 4, "upload_503": 1, "slow_ms": 1}


def write_plan(root: Path) -> Path:
    (root / "data").mkdir()
    (root / "data" / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    (root / "data" / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    plan = root / "orphans.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    return plan


def outcomes(result, kind: str) -> dict[str, dict[str, str]]:
    rows = {}
    for step in result.results["steps"]:
        frame = read_table(result.paths.root / step["files"][kind])
        rows |= {row["key"]: row for row in frame.to_dict("records")}
    return rows


def test_children_of_failed_skipped_and_rejected_parents_are_skipped_recursively(org):
    plan = write_plan(org.project)
    org.faults(FAULTS)
    result = org.run(plan, max_retries=8, check=False)  # "a dozen" must reach the server to fail there
    org.faults(None)
    totals = result.results["totals"]
    assert result.exit_code == 1
    assert (totals["rejected"], totals["succeeded"], totals["failed"], totals["skipped"]) == (1, 4, 2, 8)
    failed = outcomes(result, "failed")
    assert sorted(failed) == ["K3a", "R1"]  # only the rows at fault: no "Foreign key external ID not found"
    assert {row["error_code"] for row in failed.values()} == {"INVALID_TYPE_ON_FIELD_IN_RECORD"}
    skipped = outcomes(result, "skipped")
    assert {key: (row["parent_object"], row["parent_key"]) for key, row in skipped.items()} == {
        "K1": ("Account", "R1"), "K2": ("Account", "R2"), "G1": ("Account", "K1"), "G3a": ("Account", "K3a"),
        "C1": ("Account", "G1"), "C2": ("Account", "K2"), "C4": ("Account", "R2"), "C5": ("Account", "G3a")}
    assert skipped["K1"]["reason"] == "parent Account R1 failed to load"
    assert skipped["G1"]["reason"] == "parent Account K1 was skipped: its own parent did not load"
    assert skipped["C4"]["reason"] == ("parent Account R2 was rejected (data/accounts.csv line 3, AnnualRevenue: "
                                       "not a number)")
    assert skipped["K2"]["reason"] == skipped["C4"]["reason"]
    loaded = {r["Legacy_Id__c"] for r in org.query("SELECT Legacy_Id__c FROM Account")}
    loaded |= {r["Legacy_Id__c"] for r in org.query("SELECT Legacy_Id__c FROM Contact")}
    assert loaded == {"R3", "K3b", "G3b", "C3"}


def test_send_orphans_sends_them_anyway(org):
    plan = write_plan(org.project)
    result = org.run(plan, send_orphans=True, check=False)  # as above: the server refuses R1 and K3a
    totals = result.results["totals"]
    assert totals["skipped"] == 0 and totals["failed"] == 2 + 8  # the orphans fail at the server instead
    codes = {code for step in result.results["steps"] for code in step["error_codes"]}
    assert "INVALID_FIELD" in codes  # Foreign key external ID ... not found
