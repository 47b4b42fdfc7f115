"""Two local orgs in one test (A: the source, B: the target), and a project whose migrator.toml names
them, with the example plans copied in. Helpers compare what two orgs hold, record by record."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrator import api
from migrator.localorg.server import LocalOrgServer
from tests.integration.run.conftest import FAST, ROOT, SCHEMA, Org

# What the copy test plan needs besides the example schema: record types, a Source_Id__c key per object.
# B declares one more record type first, so the same DeveloperName has another Id in each org.
COPY_SCHEMA = """\
objects:
  Account:
    record_types: {{{extra}Enterprise: Enterprise Account, SMB: Small Business}}
    fields:
      Source_Id__c: {{type: string, length: 18, external_id: true, unique: true, label: Source Id}}
  Contact:
    fields:
      Source_Id__c: {{type: string, length: 18, external_id: true, unique: true, label: Source Id}}
  Task:
    fields:
      Source_Id__c: {{type: string, length: 18, external_id: true, unique: true, label: Source Id}}
"""


@dataclass
class Orgs:
    a: Org
    b: Org
    project: Path
    env: dict[str, str]

    @property
    def home(self) -> Path:
        return self.project / ".migrator"

    def kw(self) -> dict:
        return {"home": self.home, "project_dir": self.project, "env": self.env, "clock": FAST}

    def plan(self, name: str = "crm.yaml") -> Path:
        return self.project / "plans" / name

    def load_a(self, plan: str = "crm.yaml"):
        result = api.run(self.plan(plan), target="A", **self.kw())
        assert result.exit_code == 0, result.results
        return result

    def copy(self, plan: str = "crm.yaml", **options):
        return api.copy(self.plan(plan), source="A", target="B", **self.kw(), **options)


def _target(name: str, server: LocalOrgServer) -> str:
    return (f'[targets.{name}]\nauth = "token"\ninstance_url = "{server.instance_url}"\n'
            f'access_token_env = "TOKEN_{name}"\nverify = "{server.ca_file}"\n')


@pytest.fixture
def orgs(tmp_path: Path) -> Iterator[Orgs]:
    """Two fresh local orgs over loopback HTTPS, each with its own database."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "plans", project / "plans", ignore=shutil.ignore_patterns("migrations"))
    shutil.copy(Path(__file__).parent / "data" / "copy.yaml", project / "plans" / "copy.yaml")
    for name, extra in (("a", ""), ("b", "Aaa_Partner: Partner, ")):
        (tmp_path / f"copy-{name}.yaml").write_text(COPY_SCHEMA.format(extra=extra), encoding="utf-8")
    with LocalOrgServer(tmp_path / "a.db", schema_files=(SCHEMA, tmp_path / "copy-a.yaml"), port=0, https=True) as a, \
            LocalOrgServer(tmp_path / "b.db", schema_files=(SCHEMA, tmp_path / "copy-b.yaml"), port=0,
                           https=True) as b:
        (project / "migrator.toml").write_text(_target("A", a) + _target("B", b), encoding="utf-8")
        env = {"TOKEN_A": a.access_token, "TOKEN_B": b.access_token}
        yield Orgs(a=Org(a, project, env), b=Org(b, project, env), project=project, env=env)


def snapshot(org: Org, object_name: str, key: str, paths: list[str]) -> dict[str, dict[str, object]]:
    """Every record of `object_name` by key: the values of `paths` (relationship paths flattened)."""
    records = org.query(f"SELECT {key}, {', '.join(paths)} FROM {object_name}")
    out: dict[str, dict[str, object]] = {}
    for record in records:
        values = {}
        for path in paths:
            value: object = record
            for part in path.split("."):
                value = (value or {}).get(part) if isinstance(value, dict) else None
            values[path] = value
        out[str(record[key])] = values
    return out
