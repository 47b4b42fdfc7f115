"""Org schema snapshots: `migrator describe` writes what the local org loads, a snapshot round-trips
(describe -> serve -> describe gives the same file), record types come along by DeveloperName and
are RecordType records that can be queried, and a snapshot checks plans with no org at all."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from migrator import api
from migrator.errors import PlanError
from migrator.localorg.server import LocalOrgServer

from .conftest import FAST, SCHEMA

EXTRA = """\
objects:
  Account:
    record_types: {Enterprise: Enterprise Account, SMB: {label: Small Business, active: false}, Partner: Partner}
    fields:
      Tier__c: {type: picklist, values: [{value: Gold, default: true}, Silver, {value: Bronze, active: false}],
                restricted: true}
      Tags__c: {type: multipicklist, values: [Red, Green, Blue]}
      Score__c: {type: number, precision: 5, scale: 1, default: 0}
      Motto__c: {type: text, length: 60, default: "Always \\"on\\""}
      Checked_At__c: {type: datetime}
      Opens_At__c: {type: time}
      Big__c: {type: long}
      Site_Code__c: {type: text, length: 12, id_lookup: true, case_sensitive: true}
  Widget__c:
    label: Widget
    label_plural: Widgetry
    key_prefix: a0W
    record_types: {Standard: Standard}
    fields:
      Name: {type: text, length: 80, required: true}
      Code__c: {type: text, length: 20, external_id: true, unique: true}
      Account__c: {type: lookup, to: Account, relationship_name: Owner_Account__r, child_relationship_name: Widgets}
      Related__c: {type: lookup, to: [Account, Contact]}
      Counter__c: {type: text, auto_number: true, createable: false, updateable: false}
"""


def _target(project: Path, server: LocalOrgServer, name: str = "snap") -> None:
    with (project / "migrator.toml").open("a", encoding="utf-8") as out:
        out.write(f'\n[targets.{name}]\nauth = "token"\ninstance_url = "{server.instance_url}"\n'
                  f'access_token_env = "SNAP_TOKEN"\nverify = "{server.ca_file}"\n')


def _describe(project: Path, server: LocalOrgServer, out: Path, name: str) -> api.DescribeResult:
    _target(project, server, name)
    return api.describe(None, target=name, objects=("Account", "Contact", "Widget__c", "Task", "User"), out=out,
                        home=project / ".migrator", project_dir=project, env={"SNAP_TOKEN": server.access_token})


def test_describe_serve_describe_gives_the_same_file(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "migrator.toml").write_text("", encoding="utf-8")
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA, encoding="utf-8")
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    with LocalOrgServer(tmp_path / "a.db", schema_files=(SCHEMA, extra), port=0) as org:
        result = _describe(project, org, first, "a")
    assert result.objects == ("Account", "Contact", "Task", "User", "Widget__c")
    with LocalOrgServer(tmp_path / "b.db", schema_files=(first,), port=0) as copy:
        _describe(project, copy, second, "b")
        http = requests.Session()
        http.verify, http.trust_env = str(copy.ca_file), False
        http.headers["Authorization"] = f"Bearer {copy.access_token}"
        query = http.get(f"{copy.instance_url}/services/data/v62.0/query",
                         params={"q": "SELECT DeveloperName, Name, IsActive FROM RecordType WHERE SobjectType = "
                                      "'Account' ORDER BY DeveloperName"}).json()
        described = http.get(f"{copy.instance_url}/services/data/v62.0/sobjects/Widget__c/describe").json()
    assert first.read_bytes() == second.read_bytes()
    assert [(r["DeveloperName"], r["Name"], r["IsActive"]) for r in query["records"]] == [
        ("Enterprise", "Enterprise Account", True), ("Partner", "Partner", True), ("SMB", "Small Business", False)]
    assert described["keyPrefix"] == "a0W" and described["labelPlural"] == "Widgetry"
    assert [i["developerName"] for i in described["recordTypeInfos"]] == ["Master", "Standard"]
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["Code__c"]["externalId"] and fields["Code__c"]["unique"] and fields["Code__c"]["idLookup"]
    assert fields["Account__c"]["relationshipName"] == "Owner_Account__r"
    assert fields["Related__c"]["referenceTo"] == ["Account", "Contact"]
    assert fields["Related__c"]["polymorphicForeignKey"]
    assert fields["Counter__c"]["autoNumber"] and not fields["Counter__c"]["createable"]

    snapshot = yaml.safe_load(first.read_text(encoding="utf-8"))
    assert snapshot["complete"] is True and list(snapshot["objects"]) == sorted(snapshot["objects"])
    account = snapshot["objects"]["Account"]
    assert list(account["fields"]) == sorted(account["fields"])
    assert account["record_types"] == {"Enterprise": "Enterprise Account", "Partner": "Partner",
                                       "SMB": {"label": "Small Business", "active": False}}
    assert account["fields"]["Tier__c"] == {"type": "picklist", "default": "Gold",
                                            "values": ["Gold", "Silver", {"value": "Bronze", "active": False}],
                                            "restricted": True}
    assert account["fields"]["Motto__c"]["default"] == 'Always "on"'
    assert account["fields"]["Score__c"] == {"type": "double", "precision": 5, "scale": 1, "default": 0}
    assert account["fields"]["Opens_At__c"]["type"] == "time" and account["fields"]["Big__c"]["type"] == "long"
    assert account["fields"]["Site_Code__c"] == {"type": "string", "length": 12, "id_lookup": True,
                                                 "case_sensitive": True}
    assert account["fields"]["ParentId"]["child_relationship_name"] == "ChildAccounts"
    contact = snapshot["objects"]["Contact"]["fields"]
    assert contact["Name"]["createable"] is False  # the compound name, described as Salesforce does
    assert snapshot["objects"]["Widget__c"]["fields"]["Account__c"]["child_relationship_name"] == "Widgets"


PLAN = """\
version: 1
name: widgets
defaults: {operation: upsert, external_id: Code__c}
objects:
  - object: Widget__c
    source: widgets.csv
    fields:
      Code__c: code
      Nmae: name
      Counter__c: counter
      RecordTypeId: {record_type: {value: Premium}}
    lookups:
      Account__c: {from: account, to: Account, relationship: Account__r, key: Legacy_Id__c, existing: true}
"""


def test_a_snapshot_checks_plans_with_no_org(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA, encoding="utf-8")
    snapshot = tmp_path / "snapshot.yaml"
    project = tmp_path / "project"
    project.mkdir()
    (project / "migrator.toml").write_text("", encoding="utf-8")
    with LocalOrgServer(tmp_path / "a.db", schema_files=(SCHEMA, extra), port=0) as org:
        _describe(project, org, snapshot, "a")
    plan = tmp_path / "widgets.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    (tmp_path / "widgets.csv").write_text("code,name,counter,account\nW1,One,1,A1\n", encoding="utf-8")
    result = api.check(plan, schema_files=(snapshot,), home=tmp_path / ".migrator", clock=FAST)
    assert result.exit_code == 2 and not result.live
    messages: dict[str, str] = {}
    for p in result.problems:
        messages[p.path] = messages.get(p.path, "") + str(p) + "\n"
    assert "Widget__c has no field 'Nmae'" in messages["objects[0].fields.Nmae"]
    assert "did you mean 'Name'?" in messages["objects[0].fields.Nmae"]
    assert "Widget__c.Counter__c is not createable" in messages["objects[0].fields.Counter__c"]
    assert "Widget__c has no record type 'Premium' (known: Standard)" in messages[
        "objects[0].fields.RecordTypeId.record_type.value"]
    assert "relationship name of Widget__c.Account__c is 'Owner_Account__r', not 'Account__r'" in messages[
        "objects[0].lookups.Account__c.relationship"]
    assert "Widget__c.Name is required on create" in messages["objects[0].fields"]
    assert all(p.file == str(plan) and p.line for p in result.problems)
    assert "limits and the prediction need a live target (--target)" in result.notes[0]


def test_check_against_snapshot_and_target_at_once_is_refused(tmp_path):
    with pytest.raises(Exception, match="not both"):
        api.check(tmp_path / "p.yaml", target="x", schema_files=(tmp_path / "s.yaml",))


def test_a_plan_problem_and_a_target_problem_are_reported_together(tmp_path):
    plan = tmp_path / "widgets.yaml"
    plan.write_text(PLAN.replace("defaults:", "defaults: {trim: maybe}\nxdefaults:"), encoding="utf-8")
    with pytest.raises(PlanError):
        api.check(plan, schema_files=(SCHEMA,), home=tmp_path / ".migrator", clock=FAST)
