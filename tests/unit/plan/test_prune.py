"""Cutting schema problems out of a plan so the rest is still checked, without false problems."""

import textwrap
from pathlib import Path

import pytest

from migrator.errors import PlanError
from migrator.plan.loader import load_plan
from migrator.plan.prune import prune


def test_the_smallest_piece_around_each_problem_is_cut():
    data = {"version": 1, "name": "p", "defaults": {"operation": "upsrt", "trim": True},
            "load_order": [[]],
            "objects": [
                {"object": "Account", "source": "a.csv", "api": "bulk3",
                 "fields": {"Name": {"from": "n", "typo": 1}, "X": 5},
                 "lookups": {"ParentId": {"from": "p", "to": []},
                             "OwnerId": {"from": "o", "to": "User", "missing": 1}}},
                {"object": "Contact", "source": {"fil": "c.csv"}},
                "not a step"]}
    paths = [("defaults", "operation"), ("load_order", 0), ("objects", 0, "api"),
             ("objects", 0, "fields", "Name", "typo"), ("objects", 0, "fields", "X"),
             ("objects", 0, "lookups", "ParentId", "to"), ("objects", 0, "lookups", "OwnerId", "missing"),
             ("objects", 1, "source", "fil"), ("objects", 2)]
    pruned, flaws = prune(data, paths)
    assert pruned["defaults"] == {"trim": True} and "load_order" not in pruned
    step = pruned["objects"][0]
    assert "api" not in step and step["fields"] == {"Name": {"from": "n"}, "X": {}}
    assert step["lookups"] == {"OwnerId": {"from": "o", "to": "User"}}
    assert flaws.broken_steps == {1, 2} and not flaws.fatal
    assert data["defaults"]["operation"] == "upsrt"  # the document itself is left alone
    assert flaws.touches(("objects", 0, "fields")) and not flaws.cut(("objects", 0, "fields"))
    assert flaws.cut(("objects", 0, "fields", "X", "from")) and not flaws.touches(("objects", 0, "where"))
    assert flaws.setting_cut(0, step, "operation") and not flaws.setting_cut(0, {"operation": "insert"}, "operation")


def test_without_a_list_of_steps_nothing_else_is_checked():
    assert prune({"version": 1, "objects": 5}, [("objects",)])[1].fatal
    assert prune([1, 2], [()])[1].fatal


def _problems(tmp_path: Path, text: str) -> list[tuple[int | None, str | None, str]]:
    path = tmp_path / "plan.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_a_bad_default_does_not_hide_the_steps_problems_nor_invent_new_ones(tmp_path: Path):
    found = _problems(tmp_path, """\
        version: 1
        name: p
        defaults: {operation: upsrt, external_id: 7}
        objects:
          - object: Account
            source: a.csv
            fields: {Name: {from: n, type: date, format: "yyyy"}}
            where: "status =="
        """)
    assert [(line, path) for line, path, _ in found] == [
        (3, "defaults.external_id"), (3, "defaults.operation"),
        (7, "objects[0].fields.Name.format"), (8, "objects[0].where")]


def test_a_field_with_a_bad_type_is_not_also_checked_as_a_string(tmp_path: Path):
    found = _problems(tmp_path, """\
        version: 1
        name: p
        objects:
          - object: Account
            source: a.csv
            operation: insert
            fields:
              Founded__c: {from: f, type: dat, format: "%d/%m/%Y"}
              Name: {from: n, timezone: Mars/Olympus}
        """)
    assert [(line, path) for line, path, _ in found] == [
        (8, "objects[0].fields.Founded__c.type"), (9, "objects[0].fields.Name.timezone"),
        (9, "objects[0].fields.Name.timezone")]  # no "format applies to date fields" for Founded__c
    assert "timezone applies to datetime fields" in found[1][2] and "unknown time zone" in found[2][2]


def test_a_bad_variables_table_does_not_make_every_use_undeclared(tmp_path: Path):
    found = _problems(tmp_path, """\
        version: 1
        name: p
        variables: [region]
        objects:
          - object: Account
            source: a.csv
            operation: insert
            fields: {Name: {template: "{{ vars.region }}"}, Site: {template: "{{ vars.nope }"}}
        """)
    assert [(line, path) for line, path, _ in found] == [(3, "variables"), (8, "objects[0].fields.Site.template")]
