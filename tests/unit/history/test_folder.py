from pathlib import Path

import pytest

from migrator.errors import PlanError
from migrator.history.dryrun import planner_check
from migrator.history.folder import load_folder
from migrator.history.naming import discover
from migrator.history.states import LocalMigration

PLAN = """\
version: 1
name: {name}
{variables}sources: {{dir: data}}
defaults: {{external_id: Legacy_Id__c}}
objects:
  - object: Account
    source: accounts.csv
    fields: {{Legacy_Id__c: id, Name: {column}}}
"""


def _folder(tmp_path: Path, **plans: str) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "accounts.csv").write_text("id,name\n1,Acme\n", encoding="utf-8")
    for name, text in plans.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_var_reaches_the_migrations_that_declare_it_and_a_var_nobody_declares_is_an_error(tmp_path):
    folder = _folder(tmp_path,
                     **{"V1__a.yaml": PLAN.format(name="a", variables="variables: {env: dev}\n", column="name"),
                        "V2__b.yaml": PLAN.format(name="b", variables="", column="name")})
    plain = load_folder(folder)
    assert [m.variables for m in plain] == [{"env": "dev"}, {}]
    given = load_folder(folder, {"env": "prod"})
    assert [m.variables for m in given] == [{"env": "prod"}, {}]
    assert given[0].checksum != plain[0].checksum and given[1].checksum == plain[1].checksum
    with pytest.raises(PlanError, match="--var nope: no migration declares a variable 'nope'"):
        load_folder(folder, {"nope": "1"})


def test_the_problems_of_every_migration_come_back_together_with_their_files(tmp_path):
    folder = _folder(tmp_path,
                     **{"V1__a.yaml": PLAN.format(name="a", variables="", column="nmae"),
                        "V2__b.yaml": PLAN.format(name="b", variables="", column="name"),
                        "V3__c.yaml": PLAN.format(name="c", variables="", column="company")})
    with pytest.raises(PlanError) as caught:
        load_folder(folder)
    files = sorted({Path(p.file).name for p in caught.value.problems})
    assert files == ["V1__a.yaml", "V3__c.yaml"]
    assert any("nmae" in p.message for p in caught.value.problems)


CYCLE = """\
version: 1
name: cycle
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: name}
    lookups:
      Primary_Contact__c: {from: id, to: Contact, defer: false}
  - object: Contact
    source: accounts.csv
    fields: {Legacy_Id__c: id, LastName: name}
    lookups:
      AccountId: {from: id, to: Account, defer: false}
"""


def test_a_migration_plan_refuses_would_not_pass_the_folder_either(tmp_path):
    """The load graph is checked as `migrator plan` checks it: a cycle no pass 2 can break is
    found before any migration is sent, with its line."""
    folder = _folder(tmp_path, **{"V1__cycle.yaml": CYCLE})
    with pytest.raises(PlanError) as caught:
        load_folder(folder)
    (problem,) = caught.value.problems
    assert (Path(problem.file).name, problem.line) == ("V1__cycle.yaml", 10)
    assert "cycle that cannot be broken" in problem.message


def test_the_dry_run_reports_the_load_graph_with_the_other_problems_in_one_pass(tmp_path):
    folder = _folder(tmp_path, **{"V1__cycle.yaml": CYCLE.replace("Name: name", "Name: nmae")})
    (migration,) = discover(folder)
    report = planner_check()(LocalMigration(migration, "x", {}), tmp_path / "out")
    assert not report.ok
    (text,) = report.problems
    assert text.startswith("3 problems in the plan:")  # both steps map the mistyped column
    assert "column 'nmae' is not in accounts.csv" in text and "cycle that cannot be broken" in text
