"""The plan JSON Schema: generated, shipped, self-describing, strict; and its errors made readable."""

from __future__ import annotations

import copy
import importlib.util
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from migrator.plan.positions import load_positioned
from migrator.plan.schema import PATTERN_HELP, plan_schema, schema_problems

ROOT = Path(__file__).resolve().parents[3]

MINIMAL = {"version": 1, "name": "p", "objects": [{"object": "Account", "source": "a.csv"}]}


def _generator():
    spec = importlib.util.spec_from_file_location("gen_plan_schema", ROOT / "tools" / "gen_plan_schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_schema_is_what_the_generator_writes():
    committed = (ROOT / "migrator" / "plan" / "plan.schema.json").read_text(encoding="utf-8")
    assert committed == _generator().schema_text(), "run python tools/gen_plan_schema.py"


def test_root_schema_link_is_the_same_file():
    root_copy = ROOT / "schemas" / "plan.schema.json"
    packaged = ROOT / "migrator" / "plan" / "plan.schema.json"
    assert root_copy.read_bytes() == packaged.read_bytes()
    assert root_copy.resolve() == packaged.resolve()


def test_schema_is_valid_draft_2020_12_and_loaded_from_the_package():
    schema = plan_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == json.loads((ROOT / "migrator" / "plan" / "plan.schema.json").read_text())


def _walk(node: object, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every schema object inside the schema, with its JSON pointer."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_every_property_has_a_description():
    checked = [(f"{path}/{name}", prop) for path, node in _walk(plan_schema())
               if isinstance(node.get("properties"), dict) and not path.endswith("/properties")
               for name, prop in node["properties"].items()]
    assert len(checked) > 50
    assert [path for path, prop in checked if not prop.get("description")] == []


def test_every_object_schema_rejects_unknown_keys():
    objects = [(path, node) for path, node in _walk(plan_schema()) if node.get("type") == "object"]
    assert len(objects) >= 8
    assert [path for path, node in objects if "additionalProperties" not in node] == []
    assert all(node["additionalProperties"] is False for _, node in objects if "properties" in node)


def test_every_pattern_is_explained_in_words():
    patterns = {node["pattern"] for _, node in _walk(plan_schema()) if isinstance(node.get("pattern"), str)}
    assert len(patterns) == 4 and patterns <= set(PATTERN_HELP)


def _plan_with_every_level() -> dict:
    plan = copy.deepcopy(MINIMAL)
    plan["sources"] = {"dir": "."}
    plan["defaults"] = {"operation": "insert"}
    plan["objects"][0]["source"] = {"file": "a.csv"}
    plan["objects"][0]["fields"] = {"Name": {"from": "c"}}
    plan["objects"][0]["lookups"] = {"ParentId": {"from": "p", "to": "Account"}}
    return plan


LEVELS = {
    "plan": lambda p: p,
    "sources": lambda p: p["sources"],
    "defaults": lambda p: p["defaults"],
    "step": lambda p: p["objects"][0],
    "source": lambda p: p["objects"][0]["source"],
    "field": lambda p: p["objects"][0]["fields"]["Name"],
    "lookup": lambda p: p["objects"][0]["lookups"]["ParentId"],
}


def test_the_plan_with_every_level_is_valid():
    assert list(Draft202012Validator(plan_schema()).iter_errors(_plan_with_every_level())) == []


@pytest.mark.parametrize("level", list(LEVELS))
def test_unknown_keys_are_rejected_at_every_level(level):
    plan = _plan_with_every_level()
    LEVELS[level](plan)["bogus"] = 1
    doc, _ = load_positioned(json.dumps(plan, indent=1), "p.yaml")
    problems = [p for _, p in schema_problems(doc, "p.yaml")]
    assert [p.message for p in problems] == ["unknown key 'bogus'"]
    assert problems[0].path.endswith("bogus")


def problems_for(text: str):
    doc, problems = load_positioned(textwrap.dedent(text), "p.yaml")
    assert doc is not None and problems == []
    return [p for _, p in schema_problems(doc, "p.yaml")]


def test_unknown_key_points_at_the_key_and_suggests_the_allowed_one():
    (problem,) = problems_for("""\
        version: 1
        name: p
        objects:
          - object: Account
            sourc: a.csv
            source: a.csv
        """)
    assert (problem.line, problem.path) == (5, "objects[0].sourc")
    assert problem.message == "unknown key 'sourc'" and problem.hint == "did you mean 'source'?"


def test_one_of_reports_the_branch_of_the_instance_type():
    (problem,) = problems_for("""\
        version: 1
        name: p
        objects:
          - object: Account
            source: a.csv
            fields:
              Name: {from: company, typo: 1}
        """)
    assert problem.path == "objects[0].fields.Name.typo" and "unknown key" in problem.message
    (problem,) = problems_for("""\
        version: 1
        name: p
        objects:
          - object: Account
            source: a.csv
            fields:
              Name: 12
        """)
    assert problem.line == 7 and "expected text or a mapping, got a whole number 12" in problem.message


def test_enum_const_pattern_and_type_messages():
    problems = problems_for("""\
        version: 3
        name: p
        objects:
          - object: Account
            source: a.csv
            api: bulk3
            part_mb: 500
            fields:
              Bad Name: x
            lookups:
              ParentId: {from: p, to: [Account, Account]}
        """)
    by_path = {p.path: p for p in problems}
    assert "plan format version 1" in by_path["version"].message
    assert "use one of: bulk2, bulk1" in by_path["objects[0].api"].message
    assert by_path["objects[0].api"].hint == "did you mean 'bulk2'?"
    assert "at most 100" in by_path["objects[0].part_mb"].message
    assert by_path["objects[0].fields['Bad Name']"].line == 9
    assert "not a valid API name" in by_path["objects[0].fields['Bad Name']"].message
    assert "same item more than once" in by_path["objects[0].lookups.ParentId.to"].message


def test_missing_required_keys_name_the_key():
    problems = problems_for("""\
        version: 1
        objects:
          - object: Account
        """)
    messages = {(p.path, p.message) for p in problems}
    assert (None, "missing required key 'name'") in messages
    assert ("objects[0]", "missing required key 'source'") in messages


def test_a_misspelt_required_key_is_one_problem_not_two():
    """Issue 10 item 31: `fil:` for `file:` was reported as an unknown key and again as a missing one."""
    problems = problems_for("""\
        verison: 1
        name: p
        objects:
          - object: Account
            source: {fil: a.csv}
          - object: Contact
            source: c.csv
            lookups:
              AccountId: {frm: account, to: Account}
        """)
    assert sorted((p.line, p.path, p.message, p.hint) for p in problems) == [
        (1, "verison", "unknown key 'verison'", "did you mean 'version'?"),
        (5, "objects[0].source.fil", "unknown key 'fil'", "did you mean 'file'?"),
        (9, "objects[1].lookups.AccountId.frm", "unknown key 'frm'", "did you mean 'from'?"),
    ]


def test_a_missing_required_key_without_a_misspelling_is_still_reported():
    problems = problems_for("""\
        version: 1
        name: p
        objects:
          - object: Account
            source: {encoding: utf-8, delimitr: ";"}
        """)
    assert {(p.path, p.message) for p in problems} == {
        ("objects[0].source", "missing required key 'file'"),
        ("objects[0].source.delimitr", "unknown key 'delimitr'"),
    }
