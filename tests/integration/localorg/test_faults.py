"""Fault injection: lock failures, failing jobs, refused uploads, expiring tokens, slow batches, admin API."""

from __future__ import annotations

import requests

from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings
from tests.integration.conftest import org_session

from .support import base, create_job, run_job

LOCK = "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--"


def _accounts(count: int, prefix: str = "L") -> str:
    return "Name,Legacy_Id__c\n" + "".join(f"Acct {n},{prefix}-{n:03d}\n" for n in range(count))


def test_lock_failures_are_deterministic_and_retries_can_succeed(tmp_path, legacy_schema_file):
    outcomes = []
    for name in ("a", "b"):
        with LocalOrgServer(tmp_path / name / "org.db", schema_files=[legacy_schema_file],
                            faults="lock_rate=0.4,seed=11") as org:
            outcomes.append(run_job(org_session(org), org, "Account", "insert", _accounts(40)))
    first, second = outcomes
    assert {r["sf__Error"] for r in first.failed} == {LOCK}
    assert 5 <= len(first.failed) <= 30
    assert [r["Legacy_Id__c"] for r in first.failed] == [r["Legacy_Id__c"] for r in second.failed]

    with LocalOrgServer(tmp_path / "c" / "org.db", schema_files=[legacy_schema_file],
                        faults={"lock_rate": 0.4, "seed": 11}) as org:
        http = org_session(org)
        pending = _accounts(40)
        for _ in range(12):  # resend only the rows that failed, each time in a new job
            outcome = run_job(http, org, "Account", "insert", pending)
            if not outcome.failed:
                break
            pending = "Name,Legacy_Id__c\n" + "".join(f"{r['Name']},{r['Legacy_Id__c']}\n" for r in outcome.failed)
        assert not outcome.failed
        count = http.get(f"{base(org)}/query", params={"q": "SELECT COUNT() FROM Account WHERE Name LIKE 'Acct%'"})
        assert count.json()["totalSize"] == 40


def test_job_fails_after_n_records(fresh_org):
    http = org_session(fresh_org)
    fresh_org.set_faults("fail_job_after=4")
    outcome = run_job(http, fresh_org, "Account", "insert", _accounts(10))
    assert outcome.info["state"] == "Failed"
    assert outcome.info["errorMessage"].startswith("InternalServerError : ")
    assert outcome.info["numberRecordsProcessed"] == 4
    assert [r["Legacy_Id__c"] for r in outcome.successful] == [f"L-{n:03d}" for n in range(4)]
    assert [r["Legacy_Id__c"] for r in outcome.unprocessed] == [f"L-{n:03d}" for n in range(4, 10)]
    fresh_org.set_faults(None)
    assert run_job(http, fresh_org, "Account", "insert", _accounts(3, "M")).info["state"] == "JobComplete"


def test_next_uploads_are_refused_with_503(fresh_org):
    http = org_session(fresh_org)
    fresh_org.set_faults({"upload_503": 2})
    job = create_job(http, fresh_org, "Account", "insert")
    url = f"{base(fresh_org)}/jobs/ingest/{job['id']}/batches"
    for _ in range(2):
        refused = http.put(url, data=b"Name\nRetry\n")
        assert refused.status_code == 503
        assert refused.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert http.put(url, data=b"Name\nRetry\n").status_code == 201


def test_tokens_expire_after_n_calls_until_the_client_logs_in_again(fresh_org):
    fresh_org.set_faults("expire_token_after=3")
    http = org_session(fresh_org)
    statuses = [http.get(f"{base(fresh_org)}/limits").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 401, 401]
    expired = http.get(f"{base(fresh_org)}/limits").json()
    assert expired == [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    login = requests.post(f"{fresh_org.instance_url}/services/oauth2/token", verify=str(fresh_org.ca_file),
                          data={"grant_type": "password", "username": fresh_org.username,
                                "password": fresh_org.password, "client_id": fresh_org.client_id,
                                "client_secret": fresh_org.client_secret}).json()
    renewed = org_session(fresh_org, login["access_token"])
    assert [renewed.get(f"{base(fresh_org)}/limits").status_code for _ in range(4)] == [200, 200, 200, 401]
    fresh_org.set_faults(None)
    assert http.get(f"{base(fresh_org)}/limits").status_code == 200, "clearing faults revives tokens"


def test_slow_batches(tmp_path, legacy_schema_file):
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file], settings=OrgSettings(batch_size=2),
                        faults="slow_ms=150") as org:
        outcome = run_job(org_session(org), org, "Account", "insert", _accounts(4))
        assert outcome.info["state"] == "JobComplete" and outcome.info["totalProcessingTime"] >= 300


def test_admin_endpoint(fresh_org):
    http = org_session(fresh_org)
    url = f"{fresh_org.instance_url}/__admin/faults"
    assert http.get(url).json()["lock_rate"] == 0.0
    assert http.post(url, json={"lock_rate": 1, "seed": 3}).json()["lock_rate"] == 1.0
    outcome = run_job(http, fresh_org, "Account", "insert", _accounts(3))
    assert len(outcome.failed) == 3
    assert http.post(url, json={"spec": "upload_503=1,slow_ms=5"}).json()["upload_503"] == 1
    assert fresh_org.org.faults.spec.slow_ms == 5
    for bad in ({"lock_rate": 2}, {"nope": 1}, {"slow_ms": -1}, {"seed": "x"}, {"spec": 5}, {"spec": "junk"}):
        response = http.post(url, json=bad)
        assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_FAULT_SPEC"
    assert http.post(url, data=b"[", headers={"Content-Type": "application/json"}).status_code == 400
    assert requests.post(url, json={}, verify=str(fresh_org.ca_file)).status_code == 401
    assert http.delete(url).status_code == 204
    assert http.get(url).json()["upload_503"] == 0
