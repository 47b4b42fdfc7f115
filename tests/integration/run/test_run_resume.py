"""A run killed with SIGKILL mid-way resumes from its checkpoint without loading anything twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PLAN = """version: 1
name: inserts
sources: {dir: data}
objects:
  - object: Account
    source: accounts.csv
    operation: insert
    part_rows: 50
    fields: {Name: name, AccountNumber: number}
"""


def jobs_done(checkpoint: Path) -> int:
    try:
        data = json.loads(checkpoint.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(job["state"] == "done" for step in data["steps"].values() for part in step["parts"].values()
               for job in part["jobs"])


def test_sigkill_then_resume_loads_every_row_exactly_once(org):
    data = org.project / "data"
    data.mkdir()
    rows = [f"Account {i},N-{i:04d}" for i in range(1000)]  # 20 parts of 50 rows, inserted (not upserted)
    (data / "accounts.csv").write_text("name,number\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (org.project / "inserts.yaml").write_text(PLAN, encoding="utf-8")
    org.faults({"slow_ms": 150})
    env = {**os.environ, **org.env}
    process = subprocess.Popen(
        [sys.executable, "-m", "migrator.cli", "run", "inserts.yaml", "--target", "test", "--concurrency", "2",
         "--format", "json"], cwd=org.project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runs = org.project / ".migrator" / "runs"
    deadline = time.monotonic() + 120
    checkpoint = None
    while time.monotonic() < deadline:
        found = list(runs.glob("*/checkpoint.json")) if runs.exists() else []
        if found and jobs_done(found[0]) >= 3:
            checkpoint = found[0]
            break
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.05)
    assert checkpoint is not None, "the run never got going"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    loaded_before = org.count("Account")
    assert 0 < loaded_before < 1000  # it really was stopped half way

    org.faults(None)
    run_id = checkpoint.parent.name
    result = org.run(None, resume=run_id)
    assert result.exit_code == 0, result.results
    assert org.count("Account") == 1000
    numbers = [r["AccountNumber"] for r in org.query("SELECT AccountNumber FROM Account")]
    assert len(numbers) == len(set(numbers)) == 1000
    assert result.results["totals"]["succeeded"] == 1000


def test_ctrl_c_aborts_open_jobs_and_prints_the_resume_command(org):
    data = org.project / "data"
    data.mkdir()
    rows = [f"Account {i},N-{i:04d}" for i in range(600)]
    (data / "accounts.csv").write_text("name,number\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (org.project / "inserts.yaml").write_text(PLAN, encoding="utf-8")
    org.faults({"slow_ms": 300})
    process = subprocess.Popen(
        [sys.executable, "-m", "migrator.cli", "run", "inserts.yaml", "--target", "test", "--concurrency", "1"],
        cwd=org.project, env={**os.environ, **org.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = org.project / ".migrator" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(runs.glob("*/checkpoint.json")) if runs.exists() else []
        if found and jobs_done(found[0]) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    run_id = found[0].parent.name
    results = json.loads((runs / run_id / "run_results.json").read_text())
    # one exit code everywhere: the process, run_results.json and the printed summary
    assert process.returncode == 130 == results["exit_code"], err
    assert "(exit code 130)" in out and f"Resume with: migrator run --resume {run_id}" in out
    assert results["status"] == "interrupted"
    # no job of the run is left running on the server
    states = [job["state"] for job in org.session().get(
        f"{org.server.instance_url}/services/data/v62.0/jobs/ingest").json()["records"]]
    assert "InProgress" not in states and "UploadComplete" not in states and "Open" not in states
    org.faults(None)
    resumed = org.run(None, resume=run_id)
    assert resumed.exit_code == 0
    assert org.count("Account") == 600
