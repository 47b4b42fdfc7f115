"""The example migrations through the CLI, as a newcomer runs them in a fresh clone:
`migrator migrate --target local` applies V001..V003 and R__, a second call is up to date, and
`migrator info` shows the history the (embedded local) org itself stores."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator.cli import cli

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "plans" / "migrations").glob("*.yaml"))


@pytest.fixture
def clone(tmp_path, monkeypatch) -> Path:
    shutil.copytree(ROOT / "plans", tmp_path / "plans", ignore=shutil.ignore_patterns("history"))
    shutil.copy(ROOT / "migrator.toml", tmp_path / "migrator.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_example_has_three_versions_and_a_repeatable_and_each_is_an_ordinary_plan(clone):
    assert [p.name for p in MIGRATIONS] == ["R__reference_data.yaml", "V001__accounts.yaml", "V002__contacts.yaml",
                                            "V003__opportunities.yaml"]
    for plan in MIGRATIONS:
        result = invoke("validate", f"plans/migrations/{plan.name}", "--sources")
        assert result.exit_code == 0, result.output
    result = invoke("plan", "plans/migrations/V001__accounts.yaml", "--format", "json")
    assert json.loads(result.output)["manifest"]["totals"]["rows"] == 6


def test_migrate_applies_everything_then_is_up_to_date_and_info_shows_the_org_s_history(clone):
    first = invoke("migrate", "--target", "local")
    assert first.exit_code == 0, first.output
    for label in ("V001 accounts", "V002 contacts", "V003 opportunities", "R reference data"):
        assert f"✓ {label}: success" in first.output
    assert "Applied 4 migration(s)" in first.output and "Migrator_Migration__c" in first.output

    second = invoke("migrate", "--target", "local")
    assert second.exit_code == 0 and "is up to date: no migration to apply" in second.output

    shown = invoke("info", "--target", "local")
    assert shown.exit_code == 0
    assert shown.output.count("Success") == 4 and "(Migrator_Migration__c)" in shown.output
    data = json.loads(invoke("info", "--target", "local", "--format", "json").output)
    assert data["states"] == {"success": 4} and data["history"].endswith("(Migrator_Migration__c)")
    assert [m["entry"]["counts"]["created"] for m in data["migrations"]] == [6, 5, 4, 4]
    report = Path(json.loads(invoke("migrate", "--format", "json").output)["report"])
    assert report.is_file() and report.is_relative_to(Path(".migrator/migrations"))


def test_drift_exits_2_with_both_checksums_and_a_dry_run_exits_0(clone):
    dry = invoke("migrate", "--dry-run", "--format", "json")
    assert dry.exit_code == 0
    assert [c["rows"] for c in json.loads(dry.output)["checks"]] == [6, 5, 4, 4]
    assert invoke("migrate").exit_code == 0
    data = clone / "plans" / "migrations" / "data" / "opportunities.csv"
    data.write_text(data.read_text(encoding="utf-8").replace("60,000.00", "65,000.00"), encoding="utf-8")
    refused = invoke("migrate", "--format", "json")
    assert refused.exit_code == 2
    body = json.loads(refused.output)
    assert body["error"] == "DriftError" and body["problems"][0]["migration"] == "V003 opportunities"
    assert body["problems"][0]["applied_checksum"] != body["problems"][0]["current_checksum"]
    assert invoke("repair").exit_code == 0
    assert "up to date" in invoke("migrate").output


def test_bad_options_exit_2_before_anything_is_sent(clone):
    to = invoke("migrate", "--to", "one", "--format", "json")
    assert to.exit_code == 2 and "'one' is not a version" in json.loads(to.output)["message"]
    folder = invoke("info", "--dir", "nowhere")
    assert folder.exit_code == 2 and "the migrations folder does not exist" in folder.output
    assert not (clone / ".migrator" / "local-org.db").exists()


def test_baseline_then_migrate_applies_only_what_is_above_it(clone):
    done = invoke("baseline", "--version", "3")
    assert done.exit_code == 0, done.output
    assert "Baseline at V3 recorded in org" in done.output
    assert "below it: V001 accounts, V002 contacts, V003 opportunities" in done.output
    applied = json.loads(invoke("migrate", "--format", "json").output)
    assert [a["migration"] for a in applied["applied"]] == ["R reference data"]
    shown = invoke("info")
    assert "Target local: 1 baseline, 3 below baseline, 1 success" in shown.output
