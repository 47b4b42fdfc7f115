"""Runs against a paced local org: lock-aware parts never collide where input order does, concurrency
backs off when the org answers REQUEST_LIMIT_EXCEEDED, and API calls are counted per step."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from migrator.run.executor import Clock

# waits are real but short: the org's clock runs fast, and a test must not sleep seconds
QUICK = Clock(sleep=lambda seconds: time.sleep(min(seconds, 0.05)))

PLAN = """version: 1
name: paced
sources: {dir: data}
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields: {Legacy_Id__c: id, Name: name}
  - object: Contact
    source: contacts.csv
    fields: {Legacy_Id__c: id, LastName: last}
    lookups:
      AccountId: {from: account, to: Account}
"""


def write_plan(project: Path, contacts: int = 8_000, accounts: int = 40) -> Path:
    data = project / "paced-data"
    data.mkdir(parents=True, exist_ok=True)
    owners = np.random.default_rng(3).integers(0, accounts, contacts)  # every part of input order names them all
    (data / "accounts.csv").write_text("id,name\n" + "".join(f"PA{n:03d},Acct {n}\n" for n in range(accounts)))
    (data / "contacts.csv").write_text("id,last,account\n" + "".join(
        f"PC{n:05d},Last {n},PA{owners[n]:03d}\n" for n in range(contacts)))
    plan = project / "paced.yaml"
    plan.write_text(PLAN.replace("{dir: data}", "{dir: paced-data}"))
    return plan


def pace_stats(org) -> dict:
    return org.server._org.pacer.stats()


def test_lock_aware_parts_never_wait_on_each_others_parents_where_input_order_collides(org):
    plan = write_plan(org.project)
    # 1,000-row chunks of 0.5 s (org time); a lock held longer than 0.2 s fails the rows that wait for it
    org.server.set_pace("rate=2000,chunk=1000,max_jobs=4,lock_wait_ms=200,speed=4,seed=1")
    result = org.run(plan, concurrency=4, clock=QUICK)
    contacts = next(s for s in result.results["steps"] if s["id"] == "Contact")
    assert result.exit_code == 0 and contacts["succeeded"] == 8_000 and contacts["jobs"] == 4
    stats = pace_stats(org)
    # no chunk ever found a parent locked by a chunk of another job: concurrent parts shared no parent
    assert stats["lock_waits"] == 0 and stats["lock_failures"] == 0
    assert contacts["lock_failures"] == 0 and contacts["retried"] == 0

    org.server.set_pace("rate=2000,chunk=1000,max_jobs=4,lock_wait_ms=200,speed=4,seed=1")  # fresh counts
    unordered = org.run(plan, concurrency=4, clock=QUICK, input_order=True)
    contacts = next(s for s in unordered.results["steps"] if s["id"] == "Contact")
    assert pace_stats(org)["lock_failures"] > 0
    assert contacts["lock_failures"] == pace_stats(org)["lock_failures"] and contacts["retried"] > 0
    assert contacts["succeeded"] + contacts["failed"] == 8_000
    assert org.count("Contact") == 8_000 - contacts["failed"]


def test_concurrency_backs_off_when_the_org_answers_request_limit_exceeded(org):
    plan = write_plan(org.project, contacts=8_000)
    # one job at a time, and a new job refused while one already waits: more than two in flight is too many
    org.server.set_pace("rate=2000,chunk=1000,max_jobs=1,queue_limit=1,speed=4")
    events = []
    result = org.run(plan, concurrency=4, clock=QUICK, on_event=lambda kind, data: events.append((kind, data)))
    assert result.exit_code == 0 and result.results["totals"]["succeeded"] == 8_040
    assert result.results["totals"]["failed"] == 0
    assert pace_stats(org)["refused"] >= 1
    throttled = [data for kind, data in events if kind == "throttled"]
    assert throttled and all("REQUEST_LIMIT_EXCEEDED" in data["error"] for data in throttled)
    concurrency = result.results["concurrency"]
    assert concurrency["max"] == 4 and concurrency["final"] < 4
    assert "throttled by the org" in [change["reason"] for change in concurrency["changes"]]


def test_api_calls_are_counted_per_step_and_match_what_the_org_served(org):
    plan = write_plan(org.project, contacts=3_000)
    before = org.server._org.api_usage
    result = org.run(plan, concurrency=2)
    served = org.server._org.api_usage - before
    steps = {s["id"]: s for s in result.results["steps"]}
    for step in steps.values():
        # create, upload, close, at least one status check and the success results, for every job
        assert step["api_calls"] >= 5 * step["jobs"]
    assert result.results["totals"]["api_calls"] == sum(s["api_calls"] for s in steps.values())
    # the checks before loading (describe, limits) are counted apart; the org also served the session
    # check made when the target was opened
    before_loading = result.results["api_calls_before_loading"]
    assert before_loading > 0
    assert 0 < served - result.results["totals"]["api_calls"] - before_loading <= 3
    report = (result.paths.root / "report.html").read_text()
    assert "API calls" in report and f">{result.results['totals']['api_calls']:,}<" in report
    assert f"(and {before_loading:,} checking the target before loading)" in report
