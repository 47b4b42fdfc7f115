"""What the CLI prints: messages as plain text (never rich markup or emoji codes), and Ctrl-C's exit code."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from migrator import api
from migrator.cli import cli

PLAN = """version: 1
name: odd
sources: {dir: data}
objects:
  - object: Account
    source: accounts.csv
    operation: insert
    fields: {Name: name}
"""


def write_plan(root: Path) -> Path:
    (root / "data").mkdir()
    (root / "data" / "accounts.csv").write_text("name\nAcme\n", encoding="utf-8")
    plan = root / "odd.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    return plan


def test_error_messages_print_markup_and_emoji_codes_as_written(tmp_path: Path):
    plan = write_plan(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(plan), "--select", "root:x:0:0[bold]", "--home",
                                      str(tmp_path / ".migrator")])
    assert result.exit_code == 2
    assert "error: --select 'root:x:0:0[bold]' matches no step" in result.output
    assert "❌" not in result.output


def test_ctrl_c_in_any_command_exits_130(tmp_path: Path, monkeypatch):
    plan = write_plan(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "plan", interrupted)
    result = CliRunner().invoke(cli, ["plan", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 130
    assert "interrupted: stopped by Ctrl-C" in result.output
