"""The target's checks (names, describe) run in the pass that checks the plan itself (issue 10 item
20 with issue 11): a schema problem in one step does not hide a wrong name in another, and what a
schema problem cut out of the plan is not judged again, so it never causes a second, false problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator import api
from migrator.errors import PlanError

NAMES_PLAN = """\
version: 1
name: one-pass
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: {from: name, type: strng}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastNme: last}
    lookups:
      AccountId: {from: account, to: Account}
  - object: Acc-ount
    source: accounts.csv
    fields: {Legacy_Id__c: id}
"""

SNAPSHOT = """\
objects:
  Account:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true}
      Name: {type: text, length: 80}
  Widget__c:
    fields:
      Code__c: {type: text, length: 20, external_id: true}
      Size__c: {type: number, precision: 5, scale: 0}
      Account__c: {type: reference, to: Account, required: true}
"""

CHECK_PLAN = """\
version: 1
name: one-pass-check
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: {from: name, type: strng}
  - object: Widget__c
    source: widgets.csv
    external_id: Code__c
    fields: {Code__c: code, Sise__c: size}
    lookups:
      Account__c: {from: account, to: 5}
"""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _problems(call) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(PlanError) as caught:
        call()
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_validate_reports_a_schema_problem_a_wrong_name_and_a_missing_column_together(tmp_path):
    _write(tmp_path, {"plan.yaml": NAMES_PLAN, "migrator.toml": '[targets.local]\nauth = "local"\n',
                      "accounts.csv": "id,name\nA1,Acme\n", "contacts.csv": "id,last\nC1,Doe\n"})
    found = _problems(lambda: api.validate(tmp_path / "plan.yaml", check_sources=True, project_dir=tmp_path,
                                           env={}))
    by_place = {(line, path): message for line, path, message in found}
    assert len(found) == 4, found
    assert "strng" in by_place[(9, "objects[0].fields.Name.type")]  # the schema's problem
    assert by_place[(12, "objects[1].fields.LastNme")] == "Contact has no field 'LastNme'"  # the names check
    assert by_place[(14, "objects[1].lookups.AccountId.from")] == "column 'account' is not in contacts.csv"
    assert "did you mean" not in by_place[(15, "objects[2].object")]  # one mistake, one problem: the schema's
    assert "Acc-ount" in by_place[(15, "objects[2].object")]
    assert not any("has no object" in message for message in by_place.values()), found


def test_check_reports_a_schema_problem_and_a_field_the_target_lacks_together(tmp_path):
    _write(tmp_path, {"plan.yaml": CHECK_PLAN, "schema.yaml": SNAPSHOT})
    found = _problems(lambda: api.check(tmp_path / "plan.yaml", schema_files=(tmp_path / "schema.yaml",),
                                        sources=False, home=tmp_path / ".m"))
    messages = [message for _, _, message in found]
    assert any(line == 9 and path == "objects[0].fields.Name.type" for line, path, _ in found), found
    assert (13, "objects[1].fields.Sise__c", "Widget__c has no field 'Sise__c'") in found
    assert any(path == "objects[1].lookups.Account__c.to" for _, path, _ in found), found
    # the lookup the schema problem cut is mapped in the plan: it is not reported as unmapped
    assert not any("required on create" in message for message in messages), found
    assert len(found) == 3, found


def test_check_reads_sources_outside_the_project_only_where_allowed(tmp_path):
    project, shared = tmp_path / "project", tmp_path / "shared"
    project.mkdir()
    shared.mkdir()
    (shared / "accounts.csv").write_text("id,name\nA1,Ann\n", encoding="utf-8")
    _write(project, {"schema.yaml": SNAPSHOT, "plan.yaml": f"version: 1\nname: shared\nsources: {{dir: {shared}}}\n"
                     "defaults: {operation: upsert, external_id: Legacy_Id__c}\nobjects:\n  - object: Account\n"
                     "    source: accounts.csv\n    fields: {Legacy_Id__c: id, Name: name}\n"})

    def check(**kw):
        return api.check(project / "plan.yaml", schema_files=(project / "schema.yaml",), home=tmp_path / ".m", **kw)

    (refused,) = _problems(check)
    assert refused[1] == "sources.dir" and "outside the plan's project" in refused[2]
    result = check(allow_paths=(shared,))
    assert result.problems == () and result.exit_code == 0 and result.manifest.summary("Account").rows == 1
