"""Issue 11's "done when", on the CRM example against the real local org.

A plan with a mistyped field, a too-long value, a bad picklist value and an unmapped required
field gets all four reported by `migrator check`, each with its location, and `run` sends nothing;
after a first load, `check` predicts 0 creates and `run --changed-only` sends 0 records.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator import api
from migrator.cli import cli
from migrator.errors import CheckFailed

from .conftest import FAST, ROOT

OBJECTS = ("Account", "Contact", "Opportunity", "Project__c", "Task")


def broken_crm(project: Path) -> Path:
    """The CRM plan with four mistakes a target-aware check must catch."""
    text = (project / "plans" / "crm.yaml").read_text(encoding="utf-8")
    replacements = [
        ("      Phone: phone\n      Website: website", "      Phnoe: phone\n      Website: website"),  # typo
        ("      Description: notes\n    lookups:\n      # a self",
         "      Description: notes\n      Sic: notes\n    lookups:\n      # a self"),  # Sic holds 20 characters
        ("done: Completed}", "done: Complete}"),  # not a value of the restricted Task.Status
        ("      CloseDate: {from: close_date, type: date, required: true}\n", ""),  # required on create
    ]
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = project / "plans" / "crm-broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


@pytest.fixture
def local_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's plans and migrator.toml (target `local`: the embedded local org) in a temp dir."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "plans", project / "plans")
    shutil.copy(ROOT / "migrator.toml", project / "migrator.toml")
    monkeypatch.chdir(project)
    for name in ("SF_ACCESS_TOKEN", "SF_INSTANCE_URL", "MIGRATOR_TARGET"):
        monkeypatch.delenv(name, raising=False)
    return project


def test_check_target_local_reports_all_four_problems_with_their_location(local_project):
    plan = broken_crm(local_project)
    result = CliRunner().invoke(cli, ["check", str(plan.relative_to(local_project)), "--target", "local",
                                      "--format", "json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.output)
    problems = {p["path"]: p for p in report["problems"]}
    typo = problems["objects[0].fields.Phnoe"]
    assert typo["line"] == line_of(plan, "Phnoe:") and "has no field 'Phnoe'" in typo["message"]
    assert typo["hint"] == "did you mean 'Phone'?" and typo["file"] == "plans/crm-broken.yaml"
    required = [p for p in report["problems"] if "Opportunity.CloseDate is required on create" in p["message"]]
    assert len(required) == 1 and required[0]["line"] == line_of(plan, "      Legacy_Id__c: opp_id") - 1
    examples = report["rejects"]["examples"]
    too_long = [r for r in examples if r["field"] == "Sic"]
    assert {(r["source_file"], r["source_row"]) for r in too_long} >= {("data/crm/accounts.csv", "2")}
    first = next(r for r in too_long if r["source_row"] == "2")
    assert first["value"] == "Group holding company" and "takes at most 20" in first["reason"]
    picklist = [r for r in examples if r["field"] == "Status" and r["step"] == "Task"]
    # the source says `done`; the plan's map sends `Complete`, which the org's Task.Status does not have
    assert picklist and all(r["value"] == "done" and "'Complete' is not a value of the restricted picklist Status"
                            in r["reason"] for r in picklist)
    assert {r["source_file"] for r in picklist} == {"data/crm/tasks.csv"}
    done = [i for i, line in enumerate((local_project / "plans/data/crm/tasks.csv").read_text().splitlines(), 1)
            if ",done," in line]
    assert sorted(int(r["source_row"]) for r in picklist) == done


def test_run_of_the_broken_plan_sends_nothing(local_project):
    plan = broken_crm(local_project)
    with pytest.raises(CheckFailed) as refused:
        api.run(plan, target="local", home=local_project / ".migrator", project_dir=local_project, env={},
                clock=FAST)
    messages = [str(p) for p in refused.value.problems]
    assert any("Phnoe" in m for m in messages) and any("CloseDate is required" in m for m in messages)
    runs = local_project / ".migrator" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "a refused run leaves no run behind"
    assert api.run(plan, target="local", home=local_project / ".migrator", project_dir=local_project, env={},
                   clock=FAST, check=False, select=("Account",)).results["totals"]["sent"] > 0, \
        "--no-check lets the plan through to the org"


def test_after_a_first_load_check_predicts_no_creates_and_changed_only_sends_nothing(org):
    plan = org.project / "plans" / "crm.yaml"
    before = api.check(plan, target="test", home=org.project / ".migrator", project_dir=org.project, env=org.env,
                       clock=FAST)
    assert before.exit_code == 1  # the export's 12 bad rows would be refused
    predicted = {f.step: f for f in before.forecast}
    assert sum(f.created for f in before.forecast) == 66 and sum(f.updated + f.unchanged for f in before.forecast) == 0
    first = org.run(plan)
    assert first.exit_code == 0, first.results
    for step in first.results["sources"]:
        assert step["succeeded"] == predicted[step["step"]].created, step["step"]

    after = api.check(plan, target="test", home=org.project / ".migrator", project_dir=org.project, env=org.env,
                      clock=FAST)
    assert sum(f.created for f in after.forecast) == 0
    assert sum(f.unchanged for f in after.forecast) == 66 and sum(f.updated for f in after.forecast) == 0
    counts = {name: org.count(name) for name in OBJECTS}
    jobs_before = len(org.query("SELECT Id FROM Account"))  # a sanity read, not a load
    again = org.run(plan, changed_only=True)
    totals = again.results["totals"]
    assert again.exit_code == 0, again.results
    assert (totals["sent"], totals["jobs"], totals["unchanged"]) == (0, 0, 66)
    assert totals["source_rows"] == totals["filtered"] + totals["rejected"] + totals["unchanged"] + totals["sent"]
    assert {name: org.count(name) for name in OBJECTS} == counts and jobs_before == counts["Account"]


def test_describe_and_check_commands_print_for_people(local_project):
    described = CliRunner().invoke(cli, ["describe", "plans/crm.yaml", "--target", "local"])
    assert described.exit_code == 0, described.output
    import yaml

    snapshot = yaml.safe_load(described.output)
    assert sorted(snapshot["objects"]) == sorted(OBJECTS)
    assert snapshot["objects"]["Project__c"]["fields"]["Status__c"]["restricted"] is True
    written = CliRunner().invoke(cli, ["describe", "--objects", "Account,Contact", "--out", "snap.yaml",
                                       "--format", "json"])
    assert written.exit_code == 0 and json.loads(written.output)["objects"] == ["Account", "Contact"]
    missing = CliRunner().invoke(cli, ["describe", "--objects", "Acount"])
    assert missing.exit_code == 2 and "has no object Acount (did you mean 'Account'?)" in missing.output

    checked = CliRunner().invoke(cli, ["check", "plans/crm.yaml"])
    assert checked.exit_code == 1, checked.output
    assert "Predicted outcome on local" in checked.output
    assert "12 row(s) would be rejected before sending:" in checked.output
    assert "data/crm/accounts.csv:16: Account.AnnualRevenue = '$2.4M': not a number" in checked.output
    assert "check against local: 12 row(s) would be refused" in checked.output
    offline = CliRunner().invoke(cli, ["check", "plans/crm.yaml", "--schema", "snap.yaml", "--schema",
                                       "plans/org/schema.yaml", "--no-sources", "--format", "json"])
    report = json.loads(offline.output)
    assert offline.exit_code == 0 and report["live"] is False and report["prediction"] is None, offline.output
