"""Which migrator.toml and target a run uses: found beside the plan (then upward), printed, recorded."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from migrator import api
from migrator.cli import cli

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
