"""Runs that cannot start leave nothing behind; a run stopped while compiling is finished by --resume;
retry refuses a run that did not finish, and never sends a row that loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from migrator import api
from migrator.errors import AuthError, ConfigError, Interrupted, RunStateError, UsageError
from migrator.run import report
from tests.integration.run.test_run_failures import write_plan


def runs_left(org) -> list[str]:
    root = org.project / ".migrator" / "runs"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_runs_that_cannot_start_leave_nothing_behind(org):
    plan = write_plan(org.project, accounts=5)
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        api.run(plan, target="nope", home=org.project / ".migrator", project_dir=org.project, env=org.env)
    with pytest.raises(UsageError, match="--select 'Acount' matches no step"):
        org.run(plan, select=("Acount",))
    org.env = {"TEST_TOKEN": "00Dnot!a-real-token"}
    with pytest.raises(AuthError) as refused:
        org.run(plan)
    assert "access token was refused" in str(refused.value) and "cannot renew" not in str(refused.value)
    assert runs_left(org) == [] and api.list_runs(org.project / ".migrator") == []
    assert org.count("Account") == 0


def test_ctrl_c_while_compiling_removes_the_run_and_says_so(org):
    plan = write_plan(org.project, accounts=5)

    def stop(kind, data):
        if kind == "chunk":
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=r"interrupted while compiling the plan: nothing was sent, and run .* "
                                          r"was removed") as caught:
        org.run(plan, on_event=stop)
    assert caught.value.exit_code == 130
    assert runs_left(org) == []


KILL_WHILE_COMPILING = """
import os, sys
from pathlib import Path
from migrator import api

def kill(kind, data):
    if kind == "chunk":  # the planner is writing parts: die as SIGKILL would, running no handler
        os._exit(9)

api.run(sys.argv[1], target="test", home=Path(".migrator"), project_dir=Path("."), on_event=kill)
"""


def test_a_run_killed_while_compiling_is_finished_by_resume(org):
    plan = write_plan(org.project, accounts=30)
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_WHILE_COMPILING), str(plan)],
                            cwd=org.project, env={**os.environ, **org.env}, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == 9, killed.stderr
    [run_id] = runs_left(org)
    run_dir = org.project / ".migrator" / "runs" / run_id
    assert list(run_dir.glob(".plan.*")), "the kill left the compiler's staging folder, as a real one would"
    home = org.project / ".migrator"
    assert [(r["run_id"], r["status"]) for r in api.list_runs(home)] == [(run_id, "compiling")]
    assert api.status(run_id, home=home).resume_command == f"migrator run --resume {run_id} --home {home}"

    resumed = org.run(None, resume=run_id)
    assert resumed.exit_code == 0, resumed.results
    assert resumed.results["totals"]["succeeded"] == 90
    assert org.count("Account") == 30 and org.count("Contact") == 60
    assert not list(run_dir.glob(".plan.*")), "no staging folder is left"
    assert json.loads((run_dir / "run.json").read_text())["state"] == "compiled"
    assert [(r["run_id"], r["status"]) for r in api.list_runs(home)] == [(run_id, "succeeded")]


def stop_after_first_job(kind, data):
    """Ctrl-C as the first job finishes: later parts were never sent."""
    if kind == "job_done":
        raise KeyboardInterrupt


def test_an_interrupted_run_counts_as_sent_only_rows_that_reached_the_server(org):
    plan = write_plan(org.project, accounts=100, part_rows=20)
    stopped = org.run(plan, on_event=stop_after_first_job, concurrency=1)
    totals = stopped.results["totals"]
    assert stopped.results["status"] == "interrupted" and stopped.exit_code == 130
    # one job finished; the one worker may have started one more, whose results it did not read
    assert 20 <= totals["sent"] <= 40 and totals["to_send"] == 300
    loaded = org.count("Account") + org.count("Contact")
    assert totals["succeeded"] <= loaded <= totals["succeeded"] + totals["in_flight"]
    assert totals["sent"] == totals["succeeded"] + totals["failed"] + totals["in_flight"]
    assert totals["to_send"] == totals["sent"] + totals["skipped"] + totals["not_sent"]
    assert totals["not_sent"] == 300 - totals["sent"]  # the other Account parts, and every Contact part
    steps = {s["id"]: s for s in stopped.results["steps"]}
    assert steps["Contact"]["not_sent"] == 200 and steps["Contact"]["sent"] == 0


def test_retry_of_an_interrupted_run_is_refused_with_the_resume_command(org):
    plan = write_plan(org.project, accounts=60, part_rows=20)
    stopped = org.run(plan, on_event=stop_after_first_job, concurrency=1)
    run_id = stopped.paths.run_id
    assert stopped.results["status"] == "interrupted"
    with pytest.raises(RunStateError) as refused:
        org.retry(run_id)
    command = f"migrator run --resume {run_id} --home {org.project / '.migrator'}"
    assert refused.value.exit_code == 2 and str(refused.value).endswith(f"Finish it first with: {command}")
    assert "have no outcome yet" in str(refused.value)
    assert runs_left(org) == [run_id]  # the refused retry left no run of its own
    finished = org.run(None, resume=run_id)
    assert finished.exit_code == 0 and org.count("Account") == 60 and org.count("Contact") == 120


def test_retry_never_resends_a_key_that_loaded_when_a_duplicate_of_it_was_rejected(org):
    plan = write_plan(org.project, accounts=4)
    accounts = org.project / "data" / "accounts.csv"
    accounts.write_text(accounts.read_text() + "A1,A later copy of account 1,99\n", encoding="utf-8")
    first = org.run(plan)
    assert first.results["totals"]["rejected"] == 1 and first.results["totals"]["succeeded"] == 12
    stamp = org.query("SELECT SystemModstamp, Name FROM Account WHERE Legacy_Id__c = 'A1'")
    second = org.retry(first.paths.run_id)
    totals = second.results["totals"]
    assert (totals["sent"], totals["rejected"]) == (0, 1)  # the duplicate is rejected again; A1 is not sent
    assert org.query("SELECT SystemModstamp, Name FROM Account WHERE Legacy_Id__c = 'A1'") == stamp
    assert stamp[0]["Name"] == "Account 1" and totals["to_send"] == 0
    assert second.results["status"] == "nothing_sent" and second.exit_code == 1


def test_select_counts_only_the_selected_steps(org):
    plan = write_plan(org.project, accounts=10)
    contacts = org.project / "data" / "contacts.csv"
    contacts.write_text(contacts.read_text() + "C0-0,Twice,A0\n", encoding="utf-8")  # a Contact reject
    result = org.run(plan, select=("Account",))
    totals = result.results["totals"]
    assert [s["id"] for s in result.results["steps"]] == ["Account"]
    assert (totals["source_rows"], totals["rejected"], totals["succeeded"]) == (10, 0, 10)
    assert totals["to_send"] == 10
    assert result.results["reject_reasons"] == []  # the Contact reject is not this run's
    selected = {s["step"]: s["selected"] for s in result.results["sources"]}
    assert selected == {"Account": True, "Contact": False}
    assert result.exit_code == 0 and org.count("Contact") == 0


def test_a_run_whose_every_row_was_rejected_sent_nothing_and_says_so(org):
    plan = write_plan(org.project, accounts=3, contacts_per_account=0)
    plan.write_text(plan.read_text().replace("NumberOfEmployees: employees", "NumberOfEmployees: "
                                             "{from: employees, type: date}"), encoding="utf-8")
    result = org.run(plan)
    assert result.exit_code == 1 and result.results["status"] == "nothing_sent"
    assert result.results["totals"]["rejected"] == 3 and result.results["totals"]["to_send"] == 0
    lines = report.summary_lines(result.results)
    assert lines[0].startswith(f"Run {result.paths.run_id}: nothing sent in") and "(exit code 1)" in lines[0]
    assert lines[1] == "Nothing was sent: every row was rejected before sending (see the rejected rows)"


def test_a_delete_step_counts_deleted_rows_never_updated_ones(org):
    plan = write_plan(org.project, accounts=6, contacts_per_account=0)
    assert org.run(plan).exit_code == 0
    ids = [r["Id"] for r in org.query("SELECT Id FROM Account")]
    (org.project / "data" / "gone.csv").write_text("sf_id\n" + "\n".join(ids[:4]) + "\n", encoding="utf-8")
    (org.project / "delete.yaml").write_text(
        "version: 1\nname: cleanup\nsources: {dir: data}\nobjects:\n  - object: Account\n    source: gone.csv\n"
        "    operation: delete\n    id: sf_id\n", encoding="utf-8")
    result = org.run(org.project / "delete.yaml")
    assert result.exit_code == 0, result.results
    [step] = result.results["steps"]
    totals = result.results["totals"]
    assert (step["succeeded"], step["created"], step["updated"]) == (4, 0, 0)  # deleted, not "updated"
    assert step["deleted"] == 4
    assert (totals["deleted"], totals["updated"], totals["succeeded"]) == (4, 0, 4)
    assert "4 succeeded (0 created, 0 updated, 4 deleted)" in report.summary_lines(result.results)[1]
    assert org.count("Account") == 2
