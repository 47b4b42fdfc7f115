"""Daily limits before a load, and record types by DeveloperName, against the real local org."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator import api
from migrator.errors import CheckFailed
from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings

from .conftest import FAST, SCHEMA

PLAN = """\
version: 1
name: types
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: name
      RecordTypeId: {record_type: segment, map: {ent: Enterprise, smb: Small_Business}}
"""
TYPES = "objects:\n  Account:\n    record_types: {Enterprise: Enterprise, Small_Business: Small Business}\n"


def _project(tmp_path: Path, server: LocalOrgServer, rows: str) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "migrator.toml").write_text(
        f'[targets.test]\nauth = "token"\ninstance_url = "{server.instance_url}"\naccess_token_env = "T"\n'
        f'verify = "{server.ca_file}"\n', encoding="utf-8")
    (project / "accounts.csv").write_text(rows, encoding="utf-8")
    plan = project / "types.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    return plan, {"T": server.access_token}


def test_record_types_resolve_by_developer_name_and_unknown_ones_are_rejects(tmp_path):
    types = tmp_path / "types.yaml"
    types.write_text(TYPES, encoding="utf-8")
    with LocalOrgServer(tmp_path / "org.db", schema_files=(SCHEMA, types), port=0) as server:
        plan, env = _project(tmp_path, server, "id,name,segment\nA1,Big,ent\nA2,Small,smb\nA3,Odd,Retail\nA4,None,\n")
        result = api.run(plan, target="test", home=tmp_path / ".m", project_dir=plan.parent, env=env, clock=FAST)
        assert result.results["totals"]["succeeded"] == 3 and result.results["totals"]["rejected"] == 1
        reasons = result.results["reject_reasons"]
        assert reasons[0]["reason"] == ("no record type with this DeveloperName on Account (known: Enterprise, "
                                        "Small_Business)") and reasons[0]["examples"][0]["value"] == "Retail"
        from tests.integration.run.conftest import Org

        org = Org(server=server, project=plan.parent, env=env)
        got = {r["Legacy_Id__c"]: (r["RecordType"] or {}).get("DeveloperName")
               for r in org.query("SELECT Legacy_Id__c, RecordType.DeveloperName FROM Account")}
        assert got == {"A1": "Enterprise", "A2": "Small_Business", "A4": None}
        # with --no-check the Ids are still resolved (they are needed), but nothing else is checked
        again = api.run(plan, target="test", home=tmp_path / ".m", project_dir=plan.parent, env=env, clock=FAST,
                        check=False, changed_only=True)
        assert again.results["totals"]["unchanged"] == 3 and again.results["totals"]["sent"] == 0


def test_a_plan_the_daily_limits_cannot_take_is_refused_with_the_numbers(tmp_path):
    with LocalOrgServer(tmp_path / "org.db", schema_files=(SCHEMA,), port=0,
                        settings=OrgSettings(daily_api_requests=60)) as server:
        rows = "id,name,segment\n" + "".join(f"A{i},Name {i},\n" for i in range(5))
        plan, env = _project(tmp_path, server, rows)
        (plan.parent / "types.yaml").write_text(PLAN.replace("      RecordTypeId: {record_type: segment, map: "
                                                             "{ent: Enterprise, smb: Small_Business}}\n", ""),
                                                encoding="utf-8")
        plan = plan.parent / "types.yaml"
        # burn the org's API calls down to a handful
        import requests

        http = requests.Session()
        http.verify, http.trust_env = str(server.ca_file), False
        http.headers["Authorization"] = f"Bearer {server.access_token}"
        for _ in range(52):
            http.get(f"{server.instance_url}/services/data/v62.0/limits").raise_for_status()
        checked = api.check(plan, target="test", home=tmp_path / ".m", project_dir=plan.parent, env=env, clock=FAST)
        assert checked.exit_code == 2
        over = [u for u in checked.limits if not u.fits]
        assert [u.name for u in over] == ["DailyApiRequests"] and over[0].needed == 7 and over[0].maximum == 60
        assert over[0].remaining is not None and over[0].remaining < 7
        with pytest.raises(CheckFailed) as refused:
            api.run(plan, target="test", home=tmp_path / ".m", project_dir=plan.parent, env=env, clock=FAST)
        assert "DailyApiRequests: this plan needs at least 7" in str(refused.value)
        assert not any((tmp_path / ".m" / "runs").glob("*")), "a refused run leaves nothing behind"
