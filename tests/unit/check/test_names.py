"""Object and field names against the bundled standard objects and the target's schema files
(issue 10 item 21: `Acount` passed `validate`, and every job then failed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator import api
from migrator.errors import ConfigError, PlanError

PLAN = """\
version: 1
name: names
defaults: {{operation: upsert, external_id: Legacy_Id__c}}
objects:
  - object: {account}
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: name
      {extra}
  - object: Contact
    source: contacts.csv
    fields: {{Legacy_Id__c: id, LastName: last, Custom_Thing__c: x}}
    lookups:
      AccountId: {{from: account, to: {parent}}}
"""


def _plan(tmp_path: Path, account: str = "Account", parent: str = "Account", extra: str = "Phone: phone") -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.format(account=account, parent=parent, extra=extra), encoding="utf-8")
    return path


def _local(tmp_path: Path, schema: str | None = None) -> None:
    lines = ['[targets.local]', 'auth = "local"']
    if schema is not None:
        (tmp_path / "schema.yaml").write_text(schema, encoding="utf-8")
        lines.append('schema = ["schema.yaml"]')
    (tmp_path / "migrator.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _problems(tmp_path: Path, plan: Path, **kw) -> list[str]:
    with pytest.raises(PlanError) as caught:
        api.validate(plan, project_dir=tmp_path, env={}, **kw)
    return [str(p) for p in caught.value.problems]


def test_a_mistyped_standard_object_is_refused_with_a_suggestion(tmp_path):
    _local(tmp_path)
    problems = _problems(tmp_path, _plan(tmp_path, account="Acount", parent="Acount"))
    named = [p for p in problems if "'Acount'" in p and "did you mean 'Account'?" in p]
    assert len(named) == 2, problems  # the step's object and the lookup's `to`
    assert named[0].startswith(f"{tmp_path / 'plan.yaml'}:5: objects[0].object: the target has no object 'Acount'")
    assert any(p.startswith(f"{tmp_path / 'plan.yaml'}:15: objects[1].lookups.AccountId.to") for p in named)


def test_a_mistyped_standard_field_is_refused_but_custom_names_are_not(tmp_path):
    _local(tmp_path)
    problems = _problems(tmp_path, _plan(tmp_path, extra="Phnoe: phone"))
    assert problems == [f"{tmp_path / 'plan.yaml'}:10: objects[0].fields.Phnoe: Account has no field 'Phnoe' "
                        "(did you mean 'Phone'?)"]


def test_custom_objects_and_fields_no_schema_file_describes_pass(tmp_path):
    _local(tmp_path)
    plan = _plan(tmp_path, account="Widget__c", parent="Widget__c", extra="Size__c: size")
    assert api.validate(plan, project_dir=tmp_path, env={}).target == "local"


def test_the_target_schema_files_are_the_reference(tmp_path):
    _local(tmp_path, "objects:\n  Region__c:\n    fields:\n      Code__c: {type: text, external_id: true}\n"
                     "  Account:\n    fields:\n      Tier: {type: text}\n")
    assert api.validate(_plan(tmp_path, extra="Tier: tier"), project_dir=tmp_path, env={})
    problems = _problems(tmp_path, _plan(tmp_path, extra="Tire: tier"))
    assert len(problems) == 1 and "Account has no field 'Tire'" in problems[0] and "'Tier'" in problems[0]


def test_for_a_salesforce_target_only_typos_of_standard_objects_are_refused(tmp_path):
    (tmp_path / "migrator.toml").write_text(
        '[targets.prod]\nauth = "token"\ninstance_url = "https://example.my.salesforce.com"\n', encoding="utf-8")
    problems = _problems(tmp_path, _plan(tmp_path, account="Acount", parent="Acount"), target="prod")
    assert len(problems) == 2 and all("'Acount' is not a standard object" in p for p in problems), problems
    # standard objects the local org does not bundle, and fields it does not list, are the org's business
    for name in ("Contract", "Asset"):
        assert api.validate(_plan(tmp_path, account=name, parent=name, extra="Sic_Desc: x"),
                            project_dir=tmp_path, env={}, target="prod").target == "prod"


def test_an_unknown_target_named_on_the_command_line_is_an_error(tmp_path):
    _local(tmp_path)
    with pytest.raises(ConfigError, match="unknown target 'prd'"):
        api.validate(_plan(tmp_path), project_dir=tmp_path, env={}, target="prd")


def test_plan_refuses_what_validate_refuses(tmp_path):
    _local(tmp_path)
    (tmp_path / "accounts.csv").write_text("id,name,phone\nA1,Acme,1\n", encoding="utf-8")
    (tmp_path / "contacts.csv").write_text("id,last,x,account\nC1,Doe,1,A1\n", encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        api.plan(_plan(tmp_path, account="Acount", parent="Acount"), out_dir=tmp_path / "out",
                 project_dir=tmp_path, env={})
    assert "did you mean 'Account'?" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_validate_command_refuses_acount(tmp_path, monkeypatch):
    """The regression as a user meets it: `migrator validate` on a plan loading `Acount` exits 2."""
    from click.testing import CliRunner

    from migrator.cli import cli

    monkeypatch.chdir(tmp_path)
    for name in ("SF_ACCESS_TOKEN", "SF_INSTANCE_URL", "MIGRATOR_TARGET"):
        monkeypatch.delenv(name, raising=False)
    plan = _plan(tmp_path, account="Acount", parent="Acount")
    result = CliRunner().invoke(cli, ["validate", str(plan), "--format", "json"])
    assert result.exit_code == 2, result.output
    problems = json.loads(result.output)["problems"]
    assert any(p["path"] == "objects[0].object" and p["hint"] == "did you mean 'Account'?" for p in problems)
