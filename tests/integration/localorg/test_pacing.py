"""Pacing over HTTP: the cap on jobs at once, lock contention between concurrent jobs, the queue limit,
the admin endpoint and the `serve` option, against a real local org (its clock sped up)."""

from __future__ import annotations

import time

import requests
from click.testing import CliRunner

from migrator.localorg.serve_command import serve
from migrator.localorg.server import LocalOrgServer
from tests.integration.conftest import org_session

from .support import base, create_job, parse, run_job, wait

LOCK = "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--"


def _accounts(count: int) -> str:
    return "Name,Legacy_Id__c\n" + "".join(f"Acct {n},P-{n:03d}\n" for n in range(count))


def _contacts(job: int, count: int, accounts: int) -> str:
    return "LastName,Legacy_Id__c,Account.Legacy_Id__c\n" + "".join(
        f"L{n},C{job}-{n:03d},P-{n % accounts:03d}\n" for n in range(count))


def _close(http: requests.Session, org: LocalOrgServer, object_name: str, data: str) -> str:
    job = create_job(http, org, object_name, "upsert", externalIdFieldName="Legacy_Id__c")
    url = f"{base(org)}/jobs/ingest/{job['id']}"
    assert http.put(f"{url}/batches", data=data.encode(), headers={"Content-Type": "text/csv"}).status_code == 201
    assert http.patch(url, json={"state": "UploadComplete"}).status_code == 200
    return job["id"]


def test_no_more_jobs_run_at_once_than_the_cap(tmp_path, legacy_schema_file):
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file],
                        pace="rate=200,chunk=100,max_jobs=2,locks=off,speed=4") as org:
        http = org_session(org)
        jobs = [_close(http, org, "Account", _accounts(300).replace("P-", f"J{i}-")) for i in range(6)]
        most = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # the job list is one read of the org's jobs: a consistent snapshot of their states
            listed = {r["id"]: r["state"] for r in http.get(f"{base(org)}/jobs/ingest").json()["records"]}
            states = [listed[job] for job in jobs]
            most = max(most, states.count("InProgress"))  # never more than the cap, at any look
            if all(state == "JobComplete" for state in states):
                break
            time.sleep(0.01)
        assert all(state == "JobComplete" for state in states)
        assert 1 <= most <= 2
        stats = http.get(f"{org.instance_url}/__admin/pace").json()["stats"]
        assert stats["most_running"] == 2 and stats["jobs_started"] == 6 and stats["running"] == 0


def _contention(tmp_path, legacy_schema_file, name: str) -> list[list[str]]:
    """Two jobs naming the same 20 accounts, closed back to back on a fresh paced org: the failed keys."""
    # chunks of 100 rows take 5 s of org time (1 s real): the second job asks for locks the first holds
    # for seconds more, past the 0.5 s lock wait
    pace = "rate=20,chunk=100,max_jobs=2,lock_wait_ms=500,speed=5,seed=4"
    with LocalOrgServer(tmp_path / name / "org.db", schema_files=[legacy_schema_file], pace=pace) as org:
        http = org_session(org)
        assert run_job(http, org, "Account", "insert", _accounts(20)).info["state"] == "JobComplete"
        jobs = [_close(http, org, "Contact", _contacts(j, 100, 20)) for j in range(2)]
        failed = []
        for job in jobs:
            assert wait(http, f"{base(org)}/jobs/ingest/{job}", timeout=60)["state"] == "JobComplete"
            rows = parse(http.get(f"{base(org)}/jobs/ingest/{job}/failedResults").text)
            assert {row["sf__Error"] for row in rows} <= {LOCK}
            failed.append(sorted(row["Legacy_Id__c"] for row in rows))
        stats = http.get(f"{org.instance_url}/__admin/pace").json()["stats"]
        assert stats["lock_failures"] == sum(len(f) for f in failed)
        return failed


def test_a_chunk_needing_a_parent_another_job_locks_fails_those_rows_the_same_way_each_time(tmp_path,
                                                                                         legacy_schema_file):
    first = _contention(tmp_path, legacy_schema_file, "a")
    again = _contention(tmp_path, legacy_schema_file, "b")
    assert first == again
    assert first[0] == [] and len(first[1]) == 100  # the first job held every parent; the second waited in vain


def test_the_queue_limit_answers_request_limit_exceeded_and_admin_changes_pace_at_run_time(fresh_org):
    http = org_session(fresh_org)
    admin = f"{fresh_org.instance_url}/__admin/pace"
    assert http.get(admin).json()["rate"] == 0.0
    set_to = http.post(admin, json={"spec": "rate=1,chunk=10,max_jobs=1,queue_limit=1"})
    assert set_to.status_code == 200 and set_to.json()["queue_limit"] == 1
    _close(http, fresh_org, "Account", _accounts(10))  # takes the slot for 10 s
    _close(http, fresh_org, "Account", _accounts(10).replace("P-", "Q-"))  # waits for it
    refused = http.post(f"{base(fresh_org)}/jobs/ingest", json={"object": "Account", "operation": "insert"})
    assert refused.status_code == 403
    assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert http.get(admin).json()["stats"]["refused"] == 1
    bad = http.post(admin, json={"rate": "fast"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_PACE_SPEC"
    assert http.delete(admin).status_code == 204
    # pacing off: new jobs are processed at once again
    assert run_job(http, fresh_org, "Account", "insert", _accounts(3).replace("P-", "R-")).info["state"] \
        == "JobComplete"


def test_serve_refuses_a_bad_pace_spec():
    result = CliRunner().invoke(serve, ["--pace", "rate=quick"])
    assert result.exit_code == 2 and "pace setting rate needs a number" in result.output
