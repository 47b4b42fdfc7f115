from pathlib import Path

import pytest

from migrator.errors import PlanError
from migrator.history.folder import load_folder

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
