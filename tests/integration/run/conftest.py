"""A local org per test module, and helpers to run plans against it in-process through a real target."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from migrator import api
from migrator.localorg.server import LocalOrgServer
from migrator.run.executor import Clock

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "plans" / "org" / "schema.yaml"
FAST = Clock(sleep=lambda seconds: None)


@dataclass
class Org:
    server: LocalOrgServer
    project: Path
    env: dict[str, str]

    def session(self) -> requests.Session:
        http = requests.Session()
        http.trust_env = False  # REQUESTS_CA_BUNDLE in the environment must not replace the org's CA
        http.verify = str(self.server.ca_file)
        http.headers["Authorization"] = f"Bearer {self.server.access_token}"
        return http

    def query(self, soql: str) -> list[dict]:
        http = self.session()
        url = f"{self.server.instance_url}/services/data/v62.0/query"
        response = http.get(url, params={"q": soql})
        response.raise_for_status()
        body = response.json()
        records = body["records"]
        while not body["done"]:
            body = http.get(self.server.instance_url + body["nextRecordsUrl"]).json()
            records += body["records"]
        return records

    def count(self, object_name: str) -> int:
        http = self.session()
        url = f"{self.server.instance_url}/services/data/v62.0/query"
        return http.get(url, params={"q": f"SELECT COUNT() FROM {object_name}"}).json()["totalSize"]

    def faults(self, spec: dict | None) -> None:
        self.server.set_faults(spec)

    def run(self, plan: Path | str, **kw):
        kw.setdefault("clock", FAST)
        return api.run(plan, target="test", home=self.project / ".migrator", project_dir=self.project,
                       env=self.env, **kw)

    def retry(self, run_id: str | None = None, **kw):
        kw.setdefault("clock", FAST)
        return api.retry(run_id, target="test", home=self.project / ".migrator", project_dir=self.project,
                         env=self.env, **kw)


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    """A fresh local org (HTTPS, its own database) and a project dir whose migrator.toml targets it."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "plans", project / "plans")
    with LocalOrgServer(tmp_path / "org.db", schema_files=(SCHEMA,), port=0, https=True) as server:
        (project / "migrator.toml").write_text(
            f'[targets.test]\nauth = "token"\ninstance_url = "{server.instance_url}"\n'
            f'access_token_env = "TEST_TOKEN"\nverify = "{server.ca_file}"\n', encoding="utf-8")
        yield Org(server=server, project=project, env={"TEST_TOKEN": server.access_token})
