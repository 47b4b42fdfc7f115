"""plans/erp-sql.yaml, the example of a plan that reads a database: its script builds the same
legacy ERP in SQLite and in PostgreSQL (a real server), both give byte-identical parts, and the
plan loads from PostgreSQL into the local org with its rejects named by their keys."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import requests
import sqlalchemy as sa

from migrator import api
from migrator.localorg.server import LocalOrgServer
from migrator.run.executor import Clock

from .support import part_bytes

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "plans" / "data" / "erp" / "build_erp_db.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_erp_db", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example plans, with the ERP built as SQLite where migrator.toml says."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "plans", root / "plans", ignore=shutil.ignore_patterns("erp.db"))
    shutil.copy(ROOT / "migrator.toml", root / "migrator.toml")
    _script().build_sqlite(root / "plans" / "data" / "erp" / "erp.db")
    return root


def _on_postgres(project: Path, postgres, extra: str = "") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Build the ERP in PostgreSQL with the example's script and point [databases.erp] at it."""
    _script().build(sa.make_url(postgres.url).set(drivername="postgresql+psycopg", password=postgres.password))
    (project / "migrator.toml").write_text(
        f'[databases.erp]\nurl = "{postgres.url}"\npassword_env = "ERP_DB_PASSWORD"\n{extra}')
    return {"ERP_DB_PASSWORD": postgres.password}


def test_the_erp_example_gives_the_same_parts_from_sqlite_and_postgresql(project: Path, tmp_path: Path, postgres):
    plan = project / "plans" / "erp-sql.yaml"
    from_sqlite = api.plan(plan, out_dir=tmp_path / "sqlite", project_dir=project, env={})
    env = _on_postgres(project, postgres)
    from_postgres = api.plan(plan, out_dir=tmp_path / "postgres", project_dir=project, env=env)
    sqlite_parts, postgres_parts = part_bytes(tmp_path / "sqlite"), part_bytes(tmp_path / "postgres")
    assert sorted(sqlite_parts) == ["Account.L0/part-0001.csv", "Account.L1/part-0001.csv", "Account.L2/part-0001.csv",
                                    "Contact/part-0001.csv"]  # the hierarchy's three levels, then the contacts
    assert postgres_parts == sqlite_parts
    assert (tmp_path / "postgres" / "rejects.csv").read_bytes() == (tmp_path / "sqlite" / "rejects.csv").read_bytes()
    for result in (from_sqlite, from_postgres):
        totals = result.manifest.totals()
        assert (totals["rows"], totals["rejected"]) == (116, 3)
    accounts = (tmp_path / "postgres" / "Account.L0" / "part-0001.csv").read_text()
    assert '"K10003","Initech S.A. 3","Other","1250000.00"' in accounts  # numeric(14, 2) keeps its scale


def test_the_erp_example_loads_from_postgresql_into_the_local_org(project: Path, tmp_path: Path, postgres):
    with LocalOrgServer(tmp_path / "org.db", schema_files=(ROOT / "plans" / "org" / "schema.yaml",), port=0,
                        https=True) as server:
        target = (f'[targets.test]\nauth = "token"\ninstance_url = "{server.instance_url}"\n'
                  f'access_token_env = "TEST_TOKEN"\nverify = "{server.ca_file}"\n')
        env = _on_postgres(project, postgres, target)
        env["TEST_TOKEN"] = server.access_token
        result = api.run(project / "plans" / "erp-sql.yaml", target="test", home=project / ".migrator",
                         project_dir=project, env=env, clock=Clock(sleep=lambda seconds: None))
        totals = result.results["totals"]
        assert (totals["source_rows"], totals["rejected"], totals["created"], totals["failed"]) == (119, 3, 116, 0)
        with open(result.paths.root / "plan" / "rejects.csv", newline="") as handle:
            rejects = [(r["source_file"], r["source_row"], r["field"]) for r in csv.DictReader(handle)]
        assert rejects == [("erp.contacts", "contact_id 17", "LastName"), ("erp.contacts", "contact_id 42", "Email"),
                           ("erp.contacts", "contact_id 64", "AccountId")]
        http = requests.Session()
        http.trust_env = False
        http.verify = str(server.ca_file)
        http.headers["Authorization"] = f"Bearer {server.access_token}"
        soql = "SELECT Legacy_Id__c, Description, Account.Legacy_Id__c FROM Contact WHERE Legacy_Id__c = 'ERP-C6'"
        found = http.get(f"{server.instance_url}/services/data/v62.0/query", params={"q": soql})
        found.raise_for_status()
        record = found.json()["records"][0]
        assert record["Description"] == "Prefers calls.\nNever on Fridays."
        assert record["Account"]["Legacy_Id__c"].startswith("K100")
