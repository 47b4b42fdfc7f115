"""The planner end to end on small plans written to tmp dirs: parts, rejects, levels, pass 2."""

import json
from pathlib import Path

import pytest

from migrator.compile.csvio import read_table
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.errors import UsageError
from migrator.plan.loader import load_plan

ACCOUNTS = """id,name,parent,revenue
A1,Root,,1000
A2,Child,A1,2000
A3,Grandchild,A2,x
A4,Loop one,A5,
A5,Loop two,A4,
A6,Orphan,ZZ,
A2,Duplicate,,
A7,"Comma, Inc",A6,
"""
CONTACTS = """id,last,account,boss
C1,Smith,A1,
C2,Jones,A2,C1
C3,Brown,A9,C2
C4,Über,A3,
"""


def write_plan(tmp_path: Path, contact_lookup: str = "{from: account, to: Account}", extra: str = "") -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    (tmp_path / "data" / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"""version: 1
name: t
sources: {{dir: data}}
defaults: {{external_id: Legacy_Id__c}}
objects:
  - object: Contact
    source: contacts.csv
    fields: {{Legacy_Id__c: id, LastName: last}}
    lookups:
      AccountId: {contact_lookup}
      ReportsToId: {{from: boss, to: Contact}}
  - object: Account
    source: accounts.csv
    fields: {{Legacy_Id__c: id, Name: name, AnnualRevenue: {{from: revenue, type: number}}}}
    lookups:
      ParentId: {{from: parent, to: Account}}
{extra}""", encoding="utf-8")
    return plan


def compile_(plan: Path, out: Path, **kw):
    return compile_plan(load_plan(plan), PlanOptions(out_dir=out, **kw))


def rows_of(out: Path, step_id: str) -> list[list[str]]:
    folder = out / step_id.replace(":", ".")
    return [row for part in sorted(folder.glob("part-*.csv")) if not part.name.endswith(".source.csv")
            for row in read_table(part).values.tolist()]


def test_levels_pass2_rejects_and_missing_parents(tmp_path: Path):
    out = tmp_path / "out"
    manifest = compile_(write_plan(tmp_path), out)
    ids = [s.id for s in manifest.steps]
    assert ids == ["Account:L0", "Account:L1", "Contact:L0", "Account:pass2", "Contact:L1", "Contact:L2"]
    # grouped by parent (lockparts.py): A6 names one, the others none (blanks go last, in input order)
    assert [r[0] for r in rows_of(out, "Account:L0")] == ["A6", "A1", "A4", "A5"]
    assert rows_of(out, "Account:L1") == [["A2", "Child", "2000", "A1"], ["A7", "Comma, Inc", "", "A6"]]
    # the A4 <-> A5 cycle: loaded without parents in pass 1, linked in pass 2
    assert rows_of(out, "Account:pass2") == [["A4", "A5"], ["A5", "A4"]]
    rejects = read_table(out / "rejects.csv")
    assert rejects[["source_row", "key", "field", "reason"]].values.tolist() == [
        ["4", "A3", "AnnualRevenue", "not a number"],
        ["8", "A2", "Legacy_Id__c", "duplicate Legacy_Id__c: an earlier row has the same key"],
    ]
    missing = read_table(out / "missing_parents.csv")
    assert sorted(missing[["key", "field", "parent_key"]].values.tolist()) == [
        ["A6", "ParentId", "ZZ"], ["C3", "AccountId", "A9"], ["C4", "AccountId", "A3"]]
    summary = manifest.summary("Account")
    counts = (summary.source_rows, summary.rejected, summary.rows, summary.levels, summary.deferred_rows)
    assert counts == (8, 2, 6, 2, 2)
    data = json.loads((out / "manifest.json").read_text())
    assert data["manifest_version"] == 1
    step = data["steps"][0]
    assert {"id", "object", "operation", "external_id", "pass", "level", "wave", "depends_on", "parts"} <= set(step)
    assert step["parts"][0]["path"] == "Account.L0/part-0001.csv"


def test_missing_parent_policies_and_strict(tmp_path: Path):
    plan = write_plan(tmp_path, "{from: account, to: Account, missing: blank}")
    out = tmp_path / "blank"
    compile_(plan, out)
    contacts = {r[0]: r for level in range(3) for r in rows_of(out, f"Contact:L{level}")}
    assert contacts["C3"][2] == "" and contacts["C4"][2] == "" and contacts["C1"][2] == "A1"

    plan = write_plan(tmp_path, "{from: account, to: Account, missing: reject}")
    manifest = compile_(plan, tmp_path / "reject")
    assert manifest.summary("Contact").rejected == 2
    reasons = read_table(tmp_path / "reject" / "rejects.csv")
    assert "missing: reject" in reasons[reasons["key"] == "C3"]["reason"].iloc[0]

    strict = compile_(write_plan(tmp_path), tmp_path / "strict", strict=True)
    assert strict.summary("Contact").rejected == 2
    # A3 (bad number), the second A2, A6 (names a parent not in the data) and A7 (its child)
    assert strict.summary("Account").rejected == 4
    reasons = read_table(tmp_path / "strict" / "rejects.csv").set_index("key")
    assert "is refused (--strict), so this row is too" in reasons.loc["A7", "reason"]
    assert reasons.loc["A7", "field"] == "ParentId" and reasons.loc["A7", "value"] == "A6"


def test_strict_refuses_the_whole_subtree_of_a_refused_row_and_its_children_elsewhere(tmp_path: Path):
    """Refusing a row for a missing parent would leave its descendants naming a parent that is never
    sent: they are refused too, down every generation, and so are other objects' rows that name them."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text(
        "id,parent\nR,\nX1,GONE\nX2,X1\nX3,X2\nX4,X3\nOK1,R\nOK2,OK1\n", encoding="utf-8")
    (tmp_path / "data" / "contacts.csv").write_text("id,account\nC1,X3\nC2,OK2\n", encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text("""version: 1
name: t
sources: {dir: data}
defaults: {external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: id}
    lookups: {ParentId: {from: parent, to: Account, missing: reject}}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: id}
    lookups: {AccountId: {from: account, to: Account}}
""", encoding="utf-8")
    manifest = compile_(plan, tmp_path / "out", strict=True)
    rejects = read_table(tmp_path / "out" / "rejects.csv")
    assert sorted(rejects["key"]) == ["C1", "X1", "X2", "X3", "X4"]
    by_key = rejects.set_index("key")
    assert "missing: reject" in by_key.loc["X1", "reason"]
    assert by_key.loc["X4", "value"] == "X3"
    assert "is refused (missing: reject), so this row is too" in by_key.loc["X4", "reason"]  # the plan's policy
    # the child says which parent is missing and why: it was rejected, where, and for what
    assert by_key.loc["C1", "reason"].startswith("parent Account X3 was rejected (data/accounts.csv line 5, "
                                                 "ParentId: parent Account with Legacy_Id__c = this value is refused")
    assert by_key.loc["C1", "reason"].endswith(") (--strict)")
    sent = {row[0] for level in range(3) for row in rows_of(tmp_path / "out", f"Account:L{level}")}
    assert sent == {"R", "OK1", "OK2"}
    assert manifest.summary("Account").rejected == 4 and manifest.summary("Contact").rejected == 1
    assert [s.id for s in manifest.steps] == ["Account:L0", "Account:L1", "Account:L2", "Contact"]


def test_identical_input_gives_identical_bytes(tmp_path: Path):
    plan = write_plan(tmp_path)
    compile_(plan, tmp_path / "one")
    compile_(plan, tmp_path / "two")
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert one == two


def test_chunked_reading_still_finds_duplicates_across_chunks(tmp_path: Path):
    (tmp_path / "data").mkdir()
    lines = ["id,name"] + [f"K{i},n{i}" for i in range(3000)] + ["K5,again"]
    (tmp_path / "data" / "a.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text("""version: 1
name: t
sources: {dir: data}
objects:
  - object: Account
    source: a.csv
    external_id: Legacy_Id__c
    part_rows: 1000
    fields: {Legacy_Id__c: id, Name: name}
""", encoding="utf-8")
    manifest = compile_plan(load_plan(plan), PlanOptions(out_dir=tmp_path / "out", block_bytes=4096))
    (step,) = manifest.steps
    assert [p.rows for p in step.parts] == [1000, 1000, 1000]
    rejects = read_table(tmp_path / "out" / "rejects.csv")
    assert rejects[["source_row", "key"]].values.tolist() == [["3002", "K5"]]


def test_refuses_to_overwrite_a_directory_it_did_not_write(tmp_path: Path):
    plan = write_plan(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not empty"):
        compile_(plan, tmp_path / "busy")
    assert (tmp_path / "busy" / "precious.txt").exists()
    compile_(plan, tmp_path / "out")
    compile_(plan, tmp_path / "out")  # a compiled plan is replaced as a whole
    assert (tmp_path / "out" / "manifest.json").exists()


def test_selection_writes_only_chosen_rows_but_keeps_every_parent(tmp_path: Path):
    from migrator.compile.planner import RowSelection

    plan = write_plan(tmp_path, "{from: account, to: Account, missing: reject}")
    selection = {"Contact": RowSelection(keys=frozenset({"c2"}), positions=frozenset()),
                 "Account": RowSelection(keys=frozenset(), positions=frozenset({("data/accounts.csv", "4")}))}
    manifest = compile_(plan, tmp_path / "out", selection=selection)
    # C2's parent A2 is not selected, yet it still counts as present: C2 is not rejected as an orphan
    assert [r[0] for level in range(3) for r in rows_of(tmp_path / "out", f"Contact:L{level}")] == ["C2"]
    rejects = read_table(tmp_path / "out" / "rejects.csv")
    assert rejects[["key", "reason"]].values.tolist() == [["A3", "not a number"]]  # only the selected row
    assert manifest.summary("Contact").source_rows == 1 and manifest.summary("Account").source_rows == 1


def test_select_steps_follows_dependencies(tmp_path: Path):
    from migrator.run.runner import select_steps

    manifest = compile_(write_plan(tmp_path), tmp_path / "out")
    assert select_steps(manifest, []) is None
    assert select_steps(manifest, ["Contact"]) == {"Contact:L0", "Contact:L1", "Contact:L2"}
    downstream = select_steps(manifest, ["Account+"])
    assert {"Account:L0", "Account:pass2", "Contact:L2"} <= downstream
    assert select_steps(manifest, ["+Contact"]) >= {"Account:L1", "Contact:L0", "Contact:L2"}
    with pytest.raises(UsageError, match="matches no step"):
        select_steps(manifest, ["Acount"])


def test_object_cycle_defers_a_lookup_to_pass_2_and_checks_its_parents(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text("id,name,primary\nA1,One,C1\nA2,Two,C9\nA3,Three,\n")
    (tmp_path / "data" / "contacts.csv").write_text("id,last,account\nC1,Smith,A1\nC2,Jones,A2\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("""version: 1
name: cycle
sources: {dir: data}
defaults: {external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: name}
    lookups:
      Primary_Contact__c: {from: primary, to: Contact, missing: blank}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: last}
    lookups:
      AccountId: {from: account, to: Account}
""", encoding="utf-8")
    out = tmp_path / "out"
    manifest = compile_(plan, out)
    steps = {s.id: s for s in manifest.steps}
    assert list(steps) == ["Account", "Contact", "Account:pass2"]
    assert "Primary_Contact__r.Legacy_Id__c" not in steps["Account"].columns
    assert steps["Account:pass2"].columns == ("Legacy_Id__c", "Primary_Contact__r.Legacy_Id__c")
    assert steps["Account:pass2"].operation == "upsert" and steps["Account:pass2"].depends_on == ("Account", "Contact")
    # A2's primary contact C9 is not in the data: reported, and `missing: blank` leaves nothing to set for A2
    assert rows_of(out, "Account:pass2") == [["A1", "C1"]]
    missing = read_table(out / "missing_parents.csv")
    assert missing[["key", "field", "parent_key"]].values.tolist() == [["A2", "Primary_Contact__c", "C9"]]


def test_a_missing_parent_says_whether_it_was_rejected_filtered_out_or_absent(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text(
        "id,status,revenue\nA1,live,1\nA2,live,lots\nA3,gone,1\nA4,live,2\nA4,live,3\n", encoding="utf-8")
    (tmp_path / "data" / "contacts.csv").write_text(
        "id,account\nC1,A1\nC2,A2\nC3,A3\nC4,A9\nC5,A4\n", encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text("""version: 1
name: t
sources: {dir: data}
defaults: {external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    where: "status != 'gone'"
    fields: {Legacy_Id__c: id, Name: id, AnnualRevenue: {from: revenue, type: number}}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: id}
    lookups: {AccountId: {from: account, to: Account, missing: reject}}
""", encoding="utf-8")
    compile_(plan, tmp_path / "out")
    reasons = read_table(tmp_path / "out" / "rejects.csv").set_index("key")["reason"]
    assert reasons["C2"] == ("parent Account A2 was rejected (data/accounts.csv line 3, AnnualRevenue: not a number) "
                             "(missing: reject)")
    assert reasons["C3"] == "parent Account A3 was filtered out by where (missing: reject)"
    assert reasons["C4"] == "parent Account with Legacy_Id__c = this value is not in the source data (missing: reject)"
    assert "C5" not in reasons  # A4's duplicate was rejected, but A4 itself is sent
    why = read_table(tmp_path / "out" / "missing_parents.csv").set_index("key")["why"].to_dict()
    assert why == {"C2": "rejected (data/accounts.csv line 3, AnnualRevenue: not a number)",
                   "C3": "filtered out by where", "C4": "not in the source data"}
    refused = read_table(tmp_path / "out" / "refused_parents.csv")
    assert refused[["object", "key_field", "key", "source_row"]].values.tolist() == [
        ["Account", "Legacy_Id__c", "A2", "3"]]  # not A4: its first row goes out
