"""The plan against a target schema (here from schema files, as `check --schema` does): each kind
of problem, located at the plan line that causes it."""

from __future__ import annotations

from pathlib import Path

from migrator.check.check_command import load_checked
from migrator.check.schema_checks import SnapshotSource
from migrator.check.snapshot import load_schema_files

SCHEMA = """\
objects:
  Account:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true}
      Plain__c: {type: text, length: 40}
      Formula__c: {type: text, calculated: true, createable: false, updateable: false}
      Locked__c: {type: text, updateable: false}
  Contact:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true}
  Gadget__c:
    createable: false
    fields:
      Code__c: {type: text, external_id: true}
"""

PLAN = """\
version: 1
name: kinds
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: a.csv
    external_id: Plain__c
    fields:
      Plain__c: key
      Name: name
      Formula__c: f
      Locked__c: l
  - object: Contact
    source: c.csv
    fields:
      Legacy_Id__c: id
      LastName: last
    lookups:
      AccountId: {from: account, to: Opportunity, existing: true, key: Legacy_Id__c}
      ReportsToId: {from: boss, to: Contact, relationship: Boss}
      OwnerId: {from: owner, to: User, key: Alias, existing: true}
  - object: Gadget__c
    source: g.csv
    external_id: Code__c
    fields: {Code__c: code}
  - object: Opportunity
    operation: insert
    source: o.csv
    fields: {Name: name}
"""


def _problems(tmp_path: Path) -> dict[str, list[str]]:
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    _, found = load_checked(plan, SnapshotSource(load_schema_files([schema])), {}, sources=False)
    by_path: dict[str, list[str]] = {}
    for p in found.problems:
        by_path.setdefault(f"{p.line}:{p.path}", []).append(p.message)
    return by_path


def test_every_kind_of_schema_problem_is_found_with_its_line(tmp_path):
    problems = _problems(tmp_path)
    assert problems["7:objects[0].external_id"] == [
        "the upsert key Account.Plain__c is neither an external id nor an idLookup field, so the org cannot match "
        "records on it"]
    assert problems["11:objects[0].fields.Formula__c"] == [
        "Account.Formula__c is not createable: the org refuses it in rows to be created",
        "Account.Formula__c is not updateable: the org refuses it in rows to be updated"]
    assert problems["12:objects[0].fields.Locked__c"] == [
        "Account.Locked__c is not updateable: the org refuses it in rows to be updated"]
    assert problems["19:objects[1].lookups.AccountId.to"] == [
        "Contact.AccountId cannot point at Opportunity: it refers to Account"]
    assert problems["20:objects[1].lookups.ReportsToId.relationship"] == [
        "the relationship name of Contact.ReportsToId is 'ReportsTo', not 'Boss'"]
    assert problems["21:objects[1].lookups.OwnerId.to"] == [
        "the parent key of OwnerId User.Alias is neither an external id nor an idLookup field, so the org cannot "
        "match records on it"]
    assert problems["22:objects[2]"] == [
        "Gadget__c is not createable, so it cannot take upsert"]
    assert problems["29:objects[3].fields"] == [
        "Opportunity.CloseDate is required on create: map it, give it a default, or `value`",
        "Opportunity.StageName is required on create: map it, give it a default, or `value`"]
    assert sum(len(v) for v in problems.values()) == 10, problems
