"""A real local org over loopback HTTPS and a project whose migrator.toml reaches it by two names.

`test` and `alias` are two targets for the same org (same URL, same token), so a history keyed by
the org's Id must be shared between them. The project holds a copy of plans/migrations.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from migrator import api
from migrator.localorg.server import LocalOrgServer

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "plans" / "org" / "schema.yaml"
TOML = """\
[targets.test]
auth = "token"
instance_url = "{url}"
access_token_env = "TEST_TOKEN"
verify = "{ca}"

[targets.alias]
auth = "token"
instance_url = "{url}"
access_token_env = "TEST_TOKEN"
verify = "{ca}"

[migrations]
dir = "migrations"
"""


@dataclass
class Project:
    server: LocalOrgServer
    root: Path
    env: dict[str, str]

    @property
    def migrations(self) -> Path:
        return self.root / "migrations"

    @property
    def home(self) -> Path:
        return self.root / ".migrator"

    def _common(self, target: str) -> dict:
        return {"target": target, "home": self.home, "project_dir": self.root, "env": self.env}

    def migrate(self, target: str = "test", **kw) -> api.MigrateResult:
        return api.migrate(**self._common(target), **kw)

    def info(self, target: str = "test", **kw) -> api.InfoResult:
        return api.info(**self._common(target), **kw)

    def baseline(self, version: str, target: str = "test", **kw) -> api.BaselineResult:
        return api.baseline(version, **self._common(target), **kw)

    def repair(self, target: str = "test", **kw) -> api.RepairResult:
        return api.repair(**self._common(target), **kw)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.migrations / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def query(self, soql: str) -> list[dict]:
        http = requests.Session()
        http.trust_env = False
        http.verify = str(self.server.ca_file)
        http.headers["Authorization"] = f"Bearer {self.server.access_token}"
        response = http.get(f"{self.server.instance_url}/services/data/v62.0/query", params={"q": soql})
        response.raise_for_status()
        return response.json()["records"]

    def states(self, target: str = "test") -> list[tuple[str, str]]:
        return [(row.label, row.state) for row in self.info(target).rows]


def make_project(root: Path, server: LocalOrgServer) -> Project:
    shutil.copytree(ROOT / "plans" / "migrations", root / "migrations",
                    ignore=shutil.ignore_patterns("history"))
    (root / "migrator.toml").write_text(TOML.format(url=server.instance_url, ca=server.ca_file), encoding="utf-8")
    return Project(server=server, root=root, env={"TEST_TOKEN": server.access_token})


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    with LocalOrgServer(tmp_path / "org.db", schema_files=(SCHEMA,)) as server:
        yield make_project(tmp_path / "project", server)
