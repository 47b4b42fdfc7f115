"""Which migrator.toml and target a run uses: found beside the plan (then upward), printed, recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator import api
from migrator.cli import cli
from migrator.errors import PlanError

from .conftest import FAST


def test_the_config_beside_the_plan_is_used_from_any_working_directory(org, tmp_path: Path, monkeypatch):
    """Issue 10 item 24: migrator.toml was read from the working directory only."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    plan = org.project / "plans" / "seed.yaml"
    result = api.run(plan, target="test", home=elsewhere / ".migrator", env=org.env, clock=FAST)
    assert result.exit_code == 0, result.results.get("error")
    target = result.results["target"]
    assert target["config_file"] == str(org.project / "migrator.toml")
    assert target["name"] == "test" and target["description"].startswith("test (Salesforce ")
    info = json.loads(result.paths.run_info.read_text(encoding="utf-8"))
    assert info["target"]["config_file"] == str(org.project / "migrator.toml")
    assert "TEST_TOKEN" not in json.dumps(info) and org.env["TEST_TOKEN"] not in json.dumps(info)


def test_a_run_prints_its_target_and_config_file(org, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env=org.env).invoke(cli, ["run", str(org.project / "plans" / "seed.yaml"), "--target", "test",
                                                 "--home", str(tmp_path / ".migrator")])
    assert result.exit_code == 0, result.output
    assert f"configuration: {org.project / 'migrator.toml'}" in result.output
    assert "Target test (Salesforce https://127.0.0.1:" in result.output


def test_a_run_prints_the_source_warnings_plan_prints(org, tmp_path: Path, monkeypatch):
    """A stray quote that merges records is a warning of `plan`; `run` sends the same rows, so it says so too."""
    monkeypatch.chdir(tmp_path)
    plan = org.project / "warned.yaml"
    plan.write_text("version: 1\nname: warned\ndefaults: {operation: upsert, external_id: Legacy_Id__c}\n"
                    "objects:\n  - object: Account\n    source: accounts.csv\n"
                    "    fields: {Legacy_Id__c: id, Name: name, Description: note}\n", encoding="utf-8")
    (org.project / "accounts.csv").write_text('id,name,note\nA1,Ann,"oops\nA2,Bob,x\nA3,Cy,y"\nA4,Di,z\n',
                                              encoding="utf-8")
    result = CliRunner(env=org.env).invoke(cli, ["run", str(plan), "--target", "test",
                                                 "--home", str(tmp_path / ".migrator")])
    assert result.exit_code == 0, result.output
    assert org.count("Account") == 2
    (line,) = [text for text in result.output.splitlines() if "warning: " in text]
    assert "accounts.csv:2: the quoted value of column 'note' runs over lines 2-4" in line


def test_allow_path_reaches_the_checks_a_run_makes_against_the_target(org, tmp_path: Path):
    """`run` loads the plan again to check it against the target's describe: with the same --allow-path."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "accounts.csv").write_text("id,name\nA1,Ann\nA2,Bob\n", encoding="utf-8")
    plan = org.project / "shared.yaml"
    plan.write_text(f"version: 1\nname: shared\nsources: {{dir: {shared}}}\n"
                    "defaults: {operation: upsert, external_id: Legacy_Id__c}\n"
                    "objects:\n  - object: Account\n    source: accounts.csv\n"
                    "    fields: {Legacy_Id__c: id, Name: name}\n", encoding="utf-8")
    with pytest.raises(PlanError, match="outside the plan's project"):
        org.run(plan)
    result = org.run(plan, allow_paths=(shared,))
    assert result.exit_code == 0, result.results.get("error")
    assert json.loads(result.paths.run_info.read_text(encoding="utf-8"))["options"]["check"] is True
    assert org.count("Account") == 2
