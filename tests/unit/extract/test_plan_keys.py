"""What plans say for extracts, copies and cleanups (users, user:, source_id:, delete_where:), owners
resolved to the target's user Ids, and which steps an extract selects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from migrator.compile.field_rules import Users, resolve_users
from migrator.errors import PlanError, UsageError
from migrator.extract.extract_command import selected_steps
from migrator.extract.gather import parse_where
from migrator.plan.loader import load_plan

PLAN = """\
version: 1
name: seed
defaults: {operation: upsert, external_id: Source_Id__c}
users:
  match: email
  map: {jane@prod.example.com: jane@uat.example.com}
  default: admin@uat.example.com
objects:
  - object: Account
    source: accounts.csv
    delete_where: "CreatedDate = TODAY"
    fields:
      Source_Id__c: {from: id, source_id: true}
      Name: name
      OwnerId: {user: owner}
      CreatedById: {user: {value: integration@uat.example.com}}
  - object: Contact
    source: contacts.csv
    fields: {Source_Id__c: id, LastName: last}
    lookups:
      AccountId: {from: account, to: Account}
  - object: Case
    source: cases.csv
    fields: {Source_Id__c: id, Subject: subject}
    lookups:
      ContactId: {from: contact, to: Contact}
"""


def _plan(tmp_path: Path, text: str = PLAN):
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    return load_plan(tmp_path / "plan.yaml")


def test_users_user_fields_source_ids_and_delete_where_are_read(tmp_path: Path):
    plan = _plan(tmp_path)
    assert plan.users.match == "email" and plan.users.default == "admin@uat.example.com"
    assert dict(plan.users.map) == {"jane@prod.example.com": "jane@uat.example.com"}
    account = plan.step("Account")
    assert account.delete_where == "CreatedDate = TODAY"
    owner, creator, key = account.field_spec("OwnerId"), account.field_spec("CreatedById"), account.field_spec(
        "Source_Id__c")
    assert owner.user and owner.source == "owner" and creator.user and creator.value == "integration@uat.example.com"
    assert key.source_id and not account.field_spec("Name").source_id


@pytest.mark.parametrize(("change", "message"), [
    (("Source_Id__c: {from: id, source_id: true}", "Source_Id__c: {value: x, source_id: true}"),
     "source_id applies to a field read from a source column"),
    (("Name: name", "Name: {from: name, source_id: true}"), "source_id marks the step's key field"),
    (("OwnerId: {user: owner}", "OwnerId: {user: owner, from: other}"), "use only one of"),
    (("match: email", "match: alias"), "is not allowed"),
])
def test_misused_keys_are_located_problems(tmp_path: Path, change, message):
    with pytest.raises(PlanError) as error:
        _plan(tmp_path, PLAN.replace(*change))
    assert message in str(error.value)


def test_users_resolve_through_the_map_then_the_name_then_the_default():
    users = Users(ids={"jane@uat.example.com": "005J", "bob@example.com": "005B", "admin@uat.example.com": "005A"},
                  match="email", map={"jane@prod.example.com": "jane@uat.example.com",
                                      "bob@example.com": "nobody@uat.example.com"},
                  default="admin@uat.example.com")
    values = pd.Series(["Jane@Prod.example.com", "bob@example.com", "gone@prod.example.com", "", "#N/A"], dtype="str")
    ids, errors = resolve_users(values, users)
    assert ids.tolist() == ["005J", "005B", "005A", "", "#N/A"]
    assert errors.tolist() == [""] * 5
    strict = Users(ids=dict(users.ids), match="username")
    ids, errors = resolve_users(values, strict)
    assert ids.tolist()[1] == "005B" and errors.tolist()[2].startswith("no user with this username in the target")


def test_extract_selection_follows_the_lookups(tmp_path: Path):
    plan = _plan(tmp_path)
    assert selected_steps(plan, ()) == ["Account", "Contact", "Case"]
    assert selected_steps(plan, ("Account+",)) == ["Account", "Contact", "Case"]
    assert selected_steps(plan, ("contact",)) == ["Contact"]
    assert selected_steps(plan, ("+Case",)) == ["Account", "Contact", "Case"]
    with pytest.raises(UsageError, match="matches no step"):
        selected_steps(plan, ("Lead",))


def test_where_names_objects_or_steps(tmp_path: Path):
    plan = _plan(tmp_path)
    steps = ["Account", "Contact", "Case"]
    assert parse_where(plan, ["account=Industry = 'Tech'", "Account=Name != null"], steps) == {
        "Account": "(Industry = 'Tech') AND (Name != null)"}
    with pytest.raises(UsageError, match="expected OBJECT=CONDITION"):
        parse_where(plan, ["Account"], steps)
    with pytest.raises(UsageError, match="no step of the extract"):
        parse_where(plan, ["Lead=Status = 'Open'"], steps)
