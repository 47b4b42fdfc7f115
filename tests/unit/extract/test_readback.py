"""A plan step read backwards against a source org's schema (the bundled standard objects plus a
schema file): which path fills each column, what is computed, what is written blank."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.check.snapshot import load_schema_files
from migrator.extract.readback import (
    BlankColumn,
    FieldColumn,
    IdColumn,
    LookupColumn,
    PolymorphicColumn,
    TypeColumn,
    output_file,
    read_back,
)
from migrator.plan.loader import load_plan

SCHEMA = """\
objects:
  Account:
    record_types: {Enterprise: Enterprise, SMB: Small Business}
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true}
      Score__c: {type: number, precision: 8, scale: 2}
  Contact:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true, unique: true}
      Source_Id__c: {type: text, length: 18, external_id: true}
  Task:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true}
  Opportunity:
    fields:
      Legacy_Id__c: {type: text, length: 40, external_id: true}
"""

PLAN = """\
version: 1
name: back
defaults: {operation: upsert, external_id: Legacy_Id__c}
users: {match: email}
objects:
  - object: Account
    source: exports/acc-*.csv
    where: "status != 'gone' and region == 'EU'"
    fields:
      Legacy_Id__c: id
      Name: {from: name}
      Industry: {from: sector, map: {TECH: Technology, FIN: Finance}, default: Other}
      Rating: {from: heat, map: {H: Hot, W: Hot}}
      Score__c: {from: score, type: number, decimal: ","}
      Description: {template: "{{ name }} in {{ country }}"}
      Site: {value: HQ}
      RecordTypeId: {record_type: segment}
      OwnerId: {user: owner}
    lookups:
      ParentId: {from: parent, to: Account}
  - object: Contact
    source: contacts.csv
    external_id: Source_Id__c
    fields:
      Source_Id__c: {from: id, source_id: true}
      LastName: last
    lookups:
      AccountId: {from: account, to: Account}
  - object: Opportunity
    source: opps.csv
    fields: {Legacy_Id__c: id, Name: name}
  - object: Task
    source: tasks.csv
    fields:
      Legacy_Id__c: id
      Subject: subject
    lookups:
      WhoId: {from: who, to: Contact}
      WhatId:
        {from: what, to: [Account, Opportunity], type_from: kind, types: {A: Account, ACC: Account, O: Opportunity}}
"""


@pytest.fixture
def setup(tmp_path: Path):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    return load_plan(tmp_path / "plan.yaml"), load_schema_files([tmp_path / "schema.yaml"])


def columns(readback):
    return {c.column: c for c in readback.columns}


def test_fields_come_back_from_the_fields_they_map_to(setup):
    plan, schema = setup
    readback, problems = read_back(plan, plan.step("Account"), schema)
    assert problems == []
    by = columns(readback)
    assert by["id"] == FieldColumn("id", "Legacy_Id__c", "Legacy_Id__c")
    industry = by["sector"]
    assert isinstance(industry, FieldColumn)
    assert dict(industry.values.inverse) == {"Technology": "TECH", "Finance": "FIN"}
    assert industry.values.default == "Other"
    assert by["score"].number and by["score"].decimal == ","
    assert by["segment"].path == "RecordType.DeveloperName"
    assert by["owner"].path == "Owner.Email"  # users.match: email
    assert by["parent"] == LookupColumn("parent", "ParentId", "Parent.Legacy_Id__c")
    assert readback.file == "exports/acc-extract.csv" and readback.key_column == "id"
    assert readback.select[0] == "Id" and "Parent.Legacy_Id__c" in readback.select and "ParentId" in readback.select


def test_what_the_plan_computes_is_listed_and_its_columns_written_blank(setup):
    plan, schema = setup
    readback, _ = read_back(plan, plan.step("Account"), schema)
    computed = {c.field: c.reason for c in readback.computed}
    assert computed["Description"] == "a template" and computed["Site"] == "a constant value"
    assert computed["Rating"].startswith("many-to-one map")
    by = columns(readback)
    assert isinstance(by["heat"], BlankColumn) and "many-to-one" in by["heat"].reason
    assert isinstance(by["country"], BlankColumn) and "template" in by["country"].reason
    assert isinstance(by["status"], BlankColumn) and "where" in by["status"].reason
    assert isinstance(by["region"], BlankColumn)
    assert not isinstance(by["name"], BlankColumn)  # read by the template, but a field fills it


def test_source_id_keys_fall_back_to_the_record_id_and_children_follow(setup):
    plan, schema = setup
    readback, _ = read_back(plan, plan.step("Contact"), schema)
    by = columns(readback)
    assert by["id"] == FieldColumn("id", "Source_Id__c", "Source_Id__c", fallback_id=True)
    assert readback.key_fallback_id is True


def test_polymorphic_lookups_come_back_by_id_and_type(setup):
    plan, schema = setup
    readback, problems = read_back(plan, plan.step("Task"), schema)
    assert problems == []
    by = columns(readback)
    who, what = by["who"], by["what"]
    assert isinstance(who, PolymorphicColumn) and who.type_path == "Who.Type" and dict(who.keys) == {
        "Contact": "Source_Id__c"}
    assert dict(who.fallback_id) == {"Contact": True}
    assert isinstance(what, PolymorphicColumn) and dict(what.keys) == {"Account": "Legacy_Id__c",
                                                                       "Opportunity": "Legacy_Id__c"}
    kind = by["kind"]
    assert isinstance(kind, TypeColumn) and dict(kind.aliases) == {"Account": "A", "Opportunity": "O"}
    assert dict(readback.links) == {"WhoId": ("Contact",), "WhatId": ("Account", "Opportunity")}


def test_fields_the_source_org_lacks_are_located_problems(setup, tmp_path):
    _, schema = setup
    text = PLAN.replace("      LastName: last", "      LastName: last\n      Nope__c: nope")
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    broken = load_plan(tmp_path / "broken.yaml")
    _, problems = read_back(broken, broken.step("Contact"), schema)
    assert [p.message for p in problems] == ["Contact has no field 'Nope__c' in the source org"]
    assert problems[0].line == text.splitlines().index("      Nope__c: nope") + 1


def test_a_source_id_field_the_source_org_lacks_is_the_record_id(setup, tmp_path):
    plan, _ = setup
    (tmp_path / "bare.yaml").write_text(SCHEMA.replace(
        "      Source_Id__c: {type: text, length: 18, external_id: true}\n", ""), encoding="utf-8")
    readback, problems = read_back(plan, plan.step("Contact"), load_schema_files([tmp_path / "bare.yaml"]))
    assert problems == [] and columns(readback)["id"] == IdColumn("id")


@pytest.mark.parametrize(("pattern", "file"), [
    ("accounts.csv", "accounts.csv"), ("exports/acc-*.csv", "exports/acc-extract.csv"),
    ("part-??.csv", "part-xx.csv"), ("data/**/c[ab].csv", "data/ca.csv"), ("*.csv", "extract.csv"),
])
def test_an_output_file_matches_its_source_pattern(pattern, file):
    import fnmatch

    assert output_file(pattern) == file
    assert fnmatch.fnmatch(file, pattern.replace("**/", "")) or "**" in pattern


def test_a_generated_step_has_no_file_to_extract_into(tmp_path: Path):
    (tmp_path / "schema.yaml").write_text(SCHEMA, encoding="utf-8")
    (tmp_path / "plan.yaml").write_text("""\
version: 1
name: gen
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source:
      generate:
        count: 3
        columns:
          id: {seq: "A-{n}"}
    fields: {Legacy_Id__c: id}
""", encoding="utf-8")
    plan = load_plan(tmp_path / "plan.yaml")
    _, problems = read_back(plan, plan.step("Account"), load_schema_files([tmp_path / "schema.yaml"]))
    assert [p.message for p in problems] == [
        "step Account generates its rows (source.generate): there is no source file to extract its records into"]
    assert (problems[0].line, problems[0].path) == (7, "objects[0].source") and "--select" in (problems[0].hint or "")
