"""SQL sources against a real PostgreSQL server and SQLite: credentials, checks, rejects, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator import api
from migrator.cli import cli
from migrator.errors import ConfigError, PlanError

from .support import legacy_data, load_sql, write_sqlite

PLAN = """\
version: 1
name: erp
defaults: {{operation: upsert, external_id: Legacy_Id__c}}
objects:
  - object: Account
    source: {source}
    fields:
      Legacy_Id__c: id
      Name: name
      AnnualRevenue: {{from: revenue, type: integer}}
"""


@pytest.fixture(scope="module")
def loaded(postgres):
    data = legacy_data(rows=100)
    with postgres.connect() as connection:
        load_sql(data, lambda sql, rows: connection.cursor().executemany(sql, rows) if rows else
                 connection.execute(sql))
        connection.execute("UPDATE accounts SET name = 'x' || repeat('y', 300), revenue = NULL WHERE id = 'A3'")
        connection.execute("CREATE VIEW bad_revenue AS SELECT seq, id, name, 'n/a' AS revenue FROM accounts")
    return postgres


def project(tmp_path: Path, source: str, toml: str | None = None) -> Path:
    (tmp_path / "plan.yaml").write_text(PLAN.format(source=source))
    if toml is not None:
        (tmp_path / "migrator.toml").write_text(toml)
    return tmp_path / "plan.yaml"


def test_a_database_of_migrator_toml_takes_its_password_from_the_environment(tmp_path, loaded):
    plan = project(tmp_path, "{url: erp, table: accounts, columns: [id, name, revenue]}",
                   f'[databases.erp]\nurl = "{loaded.url}"\npassword_env = "ERP_DB_PASSWORD"\n')
    result = api.plan(plan, out_dir=tmp_path / "out", env={"ERP_DB_PASSWORD": loaded.password})
    assert result.manifest.sources[0].source_rows == 20
    assert result.manifest.sources[0].files == ("erp.accounts",)
    # the password is in no file the plan wrote
    for file in (tmp_path / "out").rglob("*"):
        assert not file.is_file() or loaded.password not in file.read_text(errors="replace")


def test_without_the_variable_the_error_names_it_and_shows_no_secret(tmp_path, loaded):
    plan = project(tmp_path, "{url: erp, table: accounts}",
                   f'[databases.erp]\nurl = "{loaded.url}"\npassword_env = "ERP_DB_PASSWORD"\n')
    with pytest.raises(PlanError) as caught:
        api.plan(plan, out_dir=tmp_path / "out", env={})
    assert "ERP_DB_PASSWORD, which is not set" in str(caught.value)


def test_a_wrong_password_fails_without_showing_it(tmp_path, loaded):
    plan = project(tmp_path, "{url: erp, table: accounts}",
                   f'[databases.erp]\nurl = "{loaded.url}"\npassword_env = "ERP_DB_PASSWORD"\n')
    with pytest.raises(PlanError) as caught:
        api.plan(plan, out_dir=tmp_path / "out", env={"ERP_DB_PASSWORD": "wrong-secret-123"})
    message = str(caught.value)
    assert "erp.accounts: cannot read the columns" in message and "password authentication failed" in message
    assert "wrong-secret-123" not in message


def test_a_password_in_the_plan_or_in_migrator_toml_is_refused(tmp_path, loaded):
    url = loaded.url.replace("erp@", f"erp:{loaded.password}@")
    with pytest.raises(PlanError) as caught:
        api.validate(project(tmp_path, f"{{url: '{url}', table: accounts}}"))
    assert "the url holds a password; credentials never go in the plan file" in str(caught.value)
    assert loaded.password not in str(caught.value)
    plan = project(tmp_path, "{url: erp, table: accounts}", f'[databases.erp]\nurl = "{url}"\n')
    with pytest.raises(ConfigError, match=r"secrets must not be stored in migrator\.toml"):
        api.plan(plan, out_dir=tmp_path / "out", env={})
    (tmp_path / "migrator.toml").write_text(f'[databases.erp]\nurl = "{loaded.url}"\npassword = "x"\n')
    with pytest.raises(ConfigError, match="password_env"):
        api.plan(plan, out_dir=tmp_path / "out", env={})


def test_validate_checks_the_columns_of_a_query_and_a_table(tmp_path, loaded, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", loaded.password)
    plan = project(tmp_path, f"{{url: '{loaded.url}', query: 'SELECT seq, id, name AS title FROM accounts'}}")
    with pytest.raises(PlanError) as caught:
        api.validate(plan, check_sources=True)
    problems = [(p.path, p.message, p.hint) for p in caught.value.problems]
    assert ("objects[0].fields.Name", "column 'name' is not in erp query", "columns: seq, id, title") in problems
    assert any(p == "objects[0].fields.AnnualRevenue.from" and "'revenue'" in m for p, m, _ in problems)
    plan = project(tmp_path, f"{{url: '{loaded.url}', table: acounts}}")
    with pytest.raises(PlanError, match="no table 'acounts' in database erp"):
        api.validate(plan, check_sources=True)
    plan = project(tmp_path, f"{{url: '{loaded.url}', query: 'SELEC id FROM accounts'}}")
    with pytest.raises(PlanError, match='syntax error at or near "SELEC"'):
        api.plan(plan, out_dir=tmp_path / "out")


def test_rejects_name_the_row_by_its_key(tmp_path, loaded, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", loaded.password)
    plan = project(tmp_path, f"{{url: '{loaded.url}', table: bad_revenue, key: id}}")
    result = CliRunner().invoke(cli, ["plan", str(plan), "--out", str(tmp_path / "out"), "--format", "json"])
    assert result.exit_code == 0, result.output
    rejects = (tmp_path / "out" / "rejects.csv").read_text().splitlines()
    assert len(rejects) == 21  # the header and every row: 'n/a' is not a whole number
    assert rejects[1] == '"Account","Account","erp.bad_revenue","id A0","A0","AnnualRevenue","n/a","not a number"'
    assert json.loads(result.output)["manifest"]["totals"]["rejected"] == 20


def test_sqlite_databases_are_files_of_the_project(tmp_path):
    write_sqlite(legacy_data(rows=50), tmp_path / "data" / "legacy.db")
    plan = project(tmp_path, "{url: 'sqlite:///data/legacy.db', table: accounts}")
    result = api.plan(plan, out_dir=tmp_path / "out")
    assert result.manifest.sources[0].source_rows == 10
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.db"
    write_sqlite(legacy_data(rows=50), outside)
    plan = project(tmp_path, f"{{url: 'sqlite:///{outside}', table: accounts}}")
    with pytest.raises(PlanError, match="is outside the plan's project"):
        api.plan(plan, out_dir=tmp_path / "out2")
    plan = project(tmp_path, "{url: erp, table: accounts}")
    with pytest.raises(PlanError, match=r"database 'erp' is not configured: add \[databases.erp\] to migrator.toml"):
        api.plan(plan, out_dir=tmp_path / "out3")


def test_a_source_takes_only_its_own_options(tmp_path):
    plan = project(tmp_path, "{url: erp, table: accounts, query: 'SELECT 1', delimiter: ';'}")
    with pytest.raises(PlanError) as caught:
        api.validate(plan)
    messages = {p.message for p in caught.value.problems}
    assert "a SQL source takes a query or a table, not both" in messages
    assert "delimiter is for files; a SQL source reads typed columns" in messages
    plan = project(tmp_path, "{file: a.parquet, sheet: One, table: t}")
    with pytest.raises(PlanError) as caught:
        api.validate(plan)
    messages = {p.message for p in caught.value.problems}
    assert messages == {"table is for SQL sources (with a url)",
                        "sheet does not apply to a parquet source (it is for xlsx)"}
