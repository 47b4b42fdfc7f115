"""Generated and masked plans through the CLI: --scale, the masking secret, the docs' example."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from migrator.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SECRET = {"MIGRATOR_MASK_SECRET": "cli-test-mask-secret-0123456789"}


def plan_json(args: list[str], env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["plan", *args, "--format", "json"], env=env)
    return result.exit_code, json.loads(result.output) if result.output.strip().startswith("{") else {}


def test_scale_multiplies_the_generated_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, plain = plan_json(["plans/seed.yaml", "--out", str(tmp_path / "a")])
    code2, scaled = plan_json(["plans/seed.yaml", "--out", str(tmp_path / "b"), "--scale", "3"])
    assert code == code2 == 0
    rows = {s["step"]: s["rows"] for s in plain["manifest"]["sources"]}
    more = {s["step"]: s["rows"] for s in scaled["manifest"]["sources"]}
    assert more["GeneratedAccount"] == 3 * rows["GeneratedAccount"] == 3000
    assert more["Lead"] == rows["Lead"]  # sources read from files are what they are
    assert scaled["manifest"]["fake"]["scale"] == 3
    first = (tmp_path / "a" / "GeneratedContact" / "part-0001.csv").read_bytes().splitlines()
    assert (tmp_path / "b" / "GeneratedContact" / "part-0001.csv").read_bytes().splitlines()[:len(first)] == first


def test_a_bad_scale_and_a_missing_secret_do_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["plan", "plans/seed.yaml", "--out", str(tmp_path / "a"), "--scale", "0"])
    assert result.exit_code == 2 and "--scale" in result.output
    result = CliRunner().invoke(cli, ["plan", "plans/copy-masked.yaml", "--out", str(tmp_path / "b")],
                                env={"MIGRATOR_MASK_SECRET": ""})
    assert result.exit_code == 2
    assert "masks are keyed by a secret: set MIGRATOR_MASK_SECRET" in " ".join(result.output.split())
    assert not (tmp_path / "b").exists()


def test_plan_prints_what_it_generated_and_masked_but_never_the_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["plan", "plans/copy-masked.yaml", "--out", str(tmp_path / "o")], env=SECRET)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Masked (key " in text and "Contact.Email (email (domain kept))" in text
    assert SECRET["MIGRATOR_MASK_SECRET"] not in result.output


def test_plan_takes_the_secret_from_the_target_it_names(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "plans" / "data" / "prod", project / "data" / "prod")
    shutil.copy(ROOT / "plans" / "copy-masked.yaml", project / "copy-masked.yaml")
    (project / "migrator.toml").write_text('[targets.sandbox]\nauth = "sf-cli"\nalias = "x"\n'
                                           'mask_secret_env = "SANDBOX_MASK"\n', encoding="utf-8")
    monkeypatch.chdir(project)
    plan = str(project / "copy-masked.yaml")
    env = {"SANDBOX_MASK": SECRET["MIGRATOR_MASK_SECRET"], "MIGRATOR_MASK_SECRET": "not-this-one-0123456789"}
    code, by_target = plan_json([plan, "--out", str(tmp_path / "t"), "--target", "sandbox"], env)
    code2, by_default = plan_json([plan, "--out", str(tmp_path / "d")], SECRET)
    assert code == code2 == 0
    assert by_target["manifest"]["fake"]["mask_secret_from"] == "SANDBOX_MASK"
    assert by_target["manifest"]["fake"]["mask_key_id"] == by_default["manifest"]["fake"]["mask_key_id"]
    assert (tmp_path / "t" / "Lead" / "part-0001.csv").read_bytes() == \
        (tmp_path / "d" / "Lead" / "part-0001.csv").read_bytes()


def test_the_example_plan_of_the_docs_plans(tmp_path):
    doc = (ROOT / "docs" / "fake-data.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if b.startswith("variables: {today"))
    plan = tmp_path / "example.yaml"
    plan.write_text("version: 1\nname: docs-example\n" + example, encoding="utf-8")
    code, result = plan_json([str(plan), "--out", str(tmp_path / "out")])
    assert code == 0, result
    rows = {s["step"]: s["rows"] for s in result["manifest"]["sources"]}
    assert rows["Account"] == 1000 and 2000 <= rows["Contact"] <= 5000 and rows["Opportunity"] > 0
