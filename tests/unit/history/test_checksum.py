import shutil
from pathlib import Path

from migrator.history.checksum import changed_parts, migration_checksum, source_files
from migrator.plan.loader import load_plan

PLAN = """\
version: 1
name: accounts
variables: {env: dev}
sources: {dir: data}
defaults: {external_id: Legacy_Id__c}
objects:
  - object: Account
    source: "*.csv"
    fields:
      Legacy_Id__c: id
      Name: name
      Description: {template: "{{ vars.env }}"}
"""


def _project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("id,name\n1,Acme\n", encoding="utf-8")
    plan = root / "V001__accounts.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    return plan


def test_the_same_plan_and_data_elsewhere_have_the_same_checksum(tmp_path):
    plan = _project(tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "elsewhere" / "two")
    first = migration_checksum(load_plan(plan))
    second = migration_checksum(load_plan(tmp_path / "elsewhere" / "two" / plan.name))
    assert first == second
    assert len(first.value) == 64 and first.sources[0][0] == "a.csv"


def test_a_comment_is_not_drift_but_a_mapping_a_variable_or_data_is(tmp_path):
    plan = _project(tmp_path)
    base = migration_checksum(load_plan(plan)).value
    plan.write_text("# a comment, and a blank line\n\n" + PLAN, encoding="utf-8")
    assert migration_checksum(load_plan(plan)).value == base
    assert migration_checksum(load_plan(plan, {"env": "prod"})).value != base
    plan.write_text(PLAN.replace("Name: name", "Name: {from: name, required: true}"), encoding="utf-8")
    assert migration_checksum(load_plan(plan)).value != base
    plan.write_text(PLAN, encoding="utf-8")
    (tmp_path / "data" / "a.csv").write_text("id,name\n1,Acme Ltd\n", encoding="utf-8")
    assert migration_checksum(load_plan(plan)).value != base


def test_a_new_file_matching_the_glob_is_drift(tmp_path):
    plan = _project(tmp_path)
    base = migration_checksum(load_plan(plan))
    (tmp_path / "data" / "b.csv").write_text("id,name\n2,Globex\n", encoding="utf-8")
    loaded = load_plan(plan)
    assert [name for name, _ in source_files(loaded)] == ["a.csv", "b.csv"]
    assert migration_checksum(loaded).value != base.value


def test_the_digests_say_what_changed(tmp_path):
    plan = _project(tmp_path)
    before = migration_checksum(load_plan(plan)).digests
    (tmp_path / "data" / "a.csv").write_text("id,name\n1,Acme Ltd\n", encoding="utf-8")
    (tmp_path / "data" / "b.csv").write_text("id,name\n2,Globex\n", encoding="utf-8")
    assert changed_parts(before, migration_checksum(load_plan(plan)).digests) == ["a.csv", "b.csv (new)"]
    assert changed_parts(before, migration_checksum(load_plan(plan, {"env": "prod"})).digests)[0] == "the plan"
    assert changed_parts({}, before) == []  # an entry recorded without digests: nothing to compare
