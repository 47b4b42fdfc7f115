"""Positional YAML: plain data, the line of every node, and YAML 1.1's surprises switched off."""

from __future__ import annotations

import textwrap

import pytest

from migrator.plan.positions import format_path, keeps_raw_text, load_positioned


def load(text: str):
    doc, problems = load_positioned(textwrap.dedent(text), "plan.yaml")
    assert doc is not None, problems
    return doc, problems


def test_records_the_line_of_every_node_and_key():
    doc, problems = load("""\
        version: 1
        objects:
          - object: Account
            fields:
              Name:
                from: company
        """)
    assert problems == []
    assert doc.line_of(("objects", 0)) == 3
    assert doc.line_of(("objects", 0, "fields", "Name")) == 6
    assert doc.line_of(("objects", 0, "fields", "Name"), key=True) == 5
    assert doc.line_of(("objects", 0, "fields", "Name", "from")) == 6
    # Unknown paths fall back to the nearest ancestor.
    assert doc.line_of(("objects", 0, "fields", "Missing", "deeper")) == 5


def test_dates_and_timestamps_stay_text():
    doc, _ = load("""\
        d: 2024-01-31
        t: 2024-01-31T10:00:00Z
        s: 2024-01-31 10:00:00
        """)
    assert doc.data == {"d": "2024-01-31", "t": "2024-01-31T10:00:00Z", "s": "2024-01-31 10:00:00"}


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "Off"])
def test_only_true_and_false_are_booleans(word):
    doc, _ = load(f"a: {word}\nb: tRuE\nc: FALSE\n")
    assert doc.data == {"a": word, "b": True, "c": False}


def test_mapping_keys_are_raw_text():
    doc, _ = load("map: {007: Bond, NO: Norway, 1: Hot, true: x, ~: y, 1.50: z}\n")
    assert list(doc.data["map"]) == ["007", "NO", "1", "true", "~", "1.50"]


def test_map_value_default_values_and_variables_keep_their_spelling():
    doc, _ = load("""\
        variables: {rate: 1.50, flag: yes, big: 0x1F, nothing: ~}
        field:
          map: {a: 1.50, b: true, c: ~, d: , e: "null", f: 007}
          value: 1.50
          default: true
          values: [1, 02, yes]
          truncate: 10
        other: 1.50
        """)
    assert doc.data["variables"] == {"rate": "1.50", "flag": "yes", "big": "0x1F", "nothing": None}
    assert doc.data["field"]["map"] == {"a": "1.50", "b": "true", "c": None, "d": None, "e": "null",
                                        "f": "007"}
    assert doc.data["field"]["value"] == "1.50"
    assert doc.data["field"]["default"] == "true"
    assert doc.data["field"]["values"] == ["1", "02", "yes"]
    assert doc.data["field"]["truncate"] == 10  # elsewhere numbers are numbers
    assert doc.data["other"] == 1.5


def test_duplicate_keys_are_reported_at_the_second_occurrence():
    doc, problems = load("""\
        fields:
          Name: a
          Site: b
          Name: c
        """)
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.line, problem.path) == (4, "fields.Name")
    assert "duplicate key 'Name'" in problem.message and "line 2" in problem.message
    assert doc.data["fields"] == {"Name": "a", "Site": "b"}


def test_anchors_aliases_and_merge_keys():
    doc, problems = load("""\
        base: &base {operation: upsert, api: bulk2}
        step:
          <<: *base
          api: bulk1
        copy: *base
        """)
    assert problems == []
    assert doc.data["step"] == {"api": "bulk1", "operation": "upsert"}
    assert doc.data["copy"] == {"operation": "upsert", "api": "bulk2"}
    assert doc.line_of(("step", "api")) == 4


def test_unsafe_tags_are_refused_with_their_line():
    _, problems = load("""\
        ok: 1
        bad: !!python/object/apply:os.system ["echo hi"]
        """)
    assert [(p.line, p.path) for p in problems] == [(2, "bad")]
    assert "not allowed" in problems[0].message


def test_syntax_errors_give_the_line():
    doc, problems = load_positioned("a: 1\nb: [1, 2\nc: 3\n", "plan.yaml")
    assert doc is None
    assert problems[0].line == 3 and "started on line 2" in problems[0].message
    assert problems[0].file == "plan.yaml"


def test_recursive_alias_and_alias_bombs_do_not_hang():
    _, problems = load("a: &a [1, *a]\n")
    assert "refers to itself" in problems[0].message
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
    doc, problems = load_positioned(bomb, "plan.yaml")
    assert doc is None and "more than" in problems[0].message


def test_bad_characters_and_multiple_documents():
    _, problems = load_positioned("a: 1\nb: \x07\n", "plan.yaml")
    assert problems[0].line == 2
    _, problems = load_positioned("a: 1\n---\nb: 2\n", "plan.yaml")
    assert "single document" in problems[0].message


def test_block_scalar_text_lines():
    doc, _ = load("""\
        t: |
          one
          two
        u: "inline"
        """)
    assert doc.text_line(("t",), 2) == 3
    assert doc.text_line(("u",), 1) == 4


def test_format_path():
    assert format_path(("objects", 2, "fields", "Name")) == "objects[2].fields.Name"
    assert format_path(("objects", 0, "fields", "map", "a b")) == "objects[0].fields.map['a b']"
    assert format_path(("load-order",)) == "load-order"
    assert format_path(()) == ""


def test_keeps_raw_text_paths():
    assert keeps_raw_text(("objects", 0, "fields", "X", "map", "007"))
    assert keeps_raw_text(("objects", 0, "fields", "X", "value"))
    assert keeps_raw_text(("variables", "rate"))
    assert not keeps_raw_text(("objects", 0, "part_rows"))
