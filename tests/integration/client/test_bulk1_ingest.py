"""Bulk API 1.0 ingest through our client, against the real local org over loopback HTTPS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.client.bulk1 import Bulk1Client, Bulk1Ingest, wait_for_batches
from migrator.client.ingest import IngestClient, JobRequest, wait_for_status
from migrator.errors import BulkApiError, InvalidRequestError

from .support import read_rows, write_csv

SCHEMA = """\
objects:
  Account:
    fields:
      Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}
  Contact:
    fields:
      Legacy_Id__c: {type: string, length: 40, external_id: true, unique: true}
"""


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA, encoding="utf-8")
    return path


@pytest.fixture
def bulk1(api) -> Bulk1Client:
    return Bulk1Client(api)




def _soql(api, soql: str) -> list[dict]:
    with api.request("GET", "query", params={"q": soql}) as response:
        return response.json()["records"]


def _load(ingest: Bulk1Ingest, clock, request: JobRequest):
    job_id = ingest.submit(request)
    status = wait_for_status(ingest, job_id, clock=clock, sleep=clock.sleep, timeout=60)
    return job_id, status


def test_insert_in_several_batches_through_the_executor_interface(api, bulk1, clock, tmp_path):
    ingest = Bulk1Ingest(bulk1, max_batch_records=7)
    assert isinstance(ingest, IngestClient) and ingest.api_name == "bulk1"
    rows = [[f"Acme {n}", f"A-{n}", f"first line {n}\nsecond, \"quoted\" line"] for n in range(20)]
    rows.insert(9, ["", "A-bad", "no name"])
    source = write_csv(tmp_path / "accounts.csv", ["Name", "Legacy_Id__c", "Description"], rows)

    created: list[str] = []
    job_id = ingest.submit(JobRequest("Account", "insert", None, source), on_created=created.append)
    assert created == [job_id] and job_id.startswith("750")
    polled: list[str] = []
    status = wait_for_status(ingest, job_id, clock=clock, sleep=clock.sleep, timeout=60,
                             on_poll=lambda s: polled.append(s.state))
    assert status.terminal and not status.failed and status.state == "JobComplete" and polled[-1] == "JobComplete"
    assert (status.records_processed, status.records_failed) == (21, 1)
    batches = bulk1.list_batches(job_id)
    assert [b.number_records_processed for b in batches] == [7, 7, 7]
    assert bulk1.get_job(job_id).state == "Closed"

    results = ingest.results(job_id, tmp_path / "results")
    assert results.success_csv.read_text(encoding="utf-8").startswith(
        '"sf__Id","sf__Created",Name,Legacy_Id__c,Description\n')
    succeeded = read_rows(results.success_csv)
    assert [r["Legacy_Id__c"] for r in succeeded] == [f"A-{n}" for n in range(20)]
    assert all(r["sf__Id"].startswith("001") and r["sf__Created"] == "true" for r in succeeded)
    assert succeeded[3]["Description"] == 'first line 3\nsecond, "quoted" line'
    failed = read_rows(results.failed_csv)
    assert [r["Legacy_Id__c"] for r in failed] == ["A-bad"] and failed[0]["sf__Id"] == ""
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:") and failed[0]["sf__Error"].endswith("--")
    assert read_rows(results.unprocessed_csv) == []
    stored = {r["Legacy_Id__c"]: r for r in _soql(api, "SELECT Id, Legacy_Id__c, Description FROM Account")}
    assert len(stored) == 20
    assert all(stored[r["Legacy_Id__c"]]["Id"] == r["sf__Id"] for r in succeeded)
    assert stored["A-3"]["Description"] == 'first line 3\nsecond, "quoted" line'
    ingest.delete(job_id)  # no-op: 1.0 has no delete; the job is still there
    assert bulk1.get_job(job_id).id == job_id


def test_upsert_with_a_relationship_column(api, bulk1, clock, tmp_path):
    ingest = Bulk1Ingest(bulk1)
    accounts = write_csv(tmp_path / "a.csv", ["Name", "Legacy_Id__c"], [["Parent 1", "P-1"], ["Parent 2", "P-2"]])
    _, status = _load(ingest, clock, JobRequest("Account", "insert", None, accounts))
    assert status.state == "JobComplete"
    parents = {r["Legacy_Id__c"]: r["Id"] for r in _soql(api, "SELECT Id, Legacy_Id__c FROM Account")}

    contacts = write_csv(tmp_path / "c.csv", ["LastName", "Legacy_Id__c", "Account.Legacy_Id__c"],
                          [["One", "C-1", "P-1"], ["Two", "C-2", "P-2"], ["Orphan", "C-3", "P-404"]])
    job_id, status = _load(ingest, clock, JobRequest("Contact", "upsert", "Legacy_Id__c", contacts))
    assert status.state == "JobComplete" and (status.records_processed, status.records_failed) == (3, 1)
    assert bulk1.get_job(job_id).external_id_field_name == "Legacy_Id__c"
    results = ingest.results(job_id, tmp_path / "r1")
    assert {r["Legacy_Id__c"]: r["sf__Created"] for r in read_rows(results.success_csv)} == {"C-1": "true",
                                                                                         "C-2": "true"}
    failed = read_rows(results.failed_csv)
    assert [r["Legacy_Id__c"] for r in failed] == ["C-3"]
    assert failed[0]["sf__Error"].startswith("INVALID_FIELD:") and "P-404" in failed[0]["sf__Error"]
    assert failed[0]["Account.Legacy_Id__c"] == "P-404"

    again = write_csv(tmp_path / "c2.csv", ["LastName", "Legacy_Id__c", "Account.Legacy_Id__c"],
                       [["One Renamed", "C-1", "P-2"], ["Three", "C-3", "P-1"]])
    job_id, status = _load(ingest, clock, JobRequest("Contact", "upsert", "Legacy_Id__c", again))
    results = ingest.results(job_id, tmp_path / "r2")
    assert {r["Legacy_Id__c"]: r["sf__Created"] for r in read_rows(results.success_csv)} == {"C-1": "false",
                                                                                         "C-3": "true"}
    stored = {r["Legacy_Id__c"]: r for r in _soql(api, "SELECT LastName, Legacy_Id__c, AccountId FROM Contact")}
    assert {key: (r["LastName"], r["AccountId"]) for key, r in stored.items()} == {
        "C-1": ("One Renamed", parents["P-2"]), "C-2": ("Two", parents["P-2"]), "C-3": ("Three", parents["P-1"])}


def test_serial_mode_loads_every_batch(api, bulk1, clock, tmp_path):
    ingest = Bulk1Ingest(bulk1, max_batch_records=5)
    rows = [[f"Serial {n}", f"S-{n}"] for n in range(23)]
    source = write_csv(tmp_path / "s.csv", ["Name", "Legacy_Id__c"], rows)
    job_id, status = _load(ingest, clock, JobRequest("Account", "insert", None, source, concurrency="serial"))
    job = bulk1.get_job(job_id)
    assert job.concurrency_mode == "Serial" and job.number_batches_total == 5
    assert status.state == "JobComplete" and status.records_processed == 23
    assert len(read_rows(ingest.results(job_id, tmp_path).success_csv)) == 23
    batches = bulk1.list_batches(job_id)
    assert all(b.state == "Completed" for b in batches)
    finished = [b.system_modstamp for b in batches]  # one at a time, in the order they were posted
    assert all(finished) and finished == sorted(finished)
    assert len(_soql(api, "SELECT Id FROM Account WHERE Legacy_Id__c LIKE 'S-%'")) == 23


def test_a_failed_batch_leaves_its_rows_unprocessed(bulk1, clock, tmp_path):
    ingest = Bulk1Ingest(bulk1)
    source = write_csv(tmp_path / "bad.csv", ["Name", "Colour__c"], [["Acme", "red"], ["Globex", "blue"]])
    job_id, status = _load(ingest, clock, JobRequest("Account", "insert", None, source))
    assert status.terminal and status.failed and status.state == "Failed"
    assert status.error_message is not None and "InvalidBatch" in status.error_message
    assert "Colour__c" in status.error_message
    results = ingest.results(job_id, tmp_path)
    assert read_rows(results.success_csv) == [] and read_rows(results.failed_csv) == []
    assert [r["Name"] for r in read_rows(results.unprocessed_csv)] == ["Acme", "Globex"]


def test_abort_leaves_queued_work_unprocessed(bulk1, tmp_path):
    ingest = Bulk1Ingest(bulk1)
    job = bulk1.create_job("Account", "insert", content_type="CSV")
    ingest.abort(job.id)
    status = ingest.status(job.id)
    assert status.state == "Aborted" and status.terminal and status.failed
    with pytest.raises(BulkApiError):
        bulk1.add_batch(job.id, b"Name\nLate\n")


def test_a_job_left_without_batches_is_aborted_and_reports_no_row_loaded(bulk1, tmp_path):
    """The upload failed, or the client died, between creating the job and adding its first batch."""
    ingest = Bulk1Ingest(bulk1)
    job = bulk1.create_job("Account", "insert", content_type="CSV")
    results = ingest.results(job.id, tmp_path)
    assert [read_rows(p) for p in (results.success_csv, results.failed_csv, results.unprocessed_csv)] == [[], [], []]
    status = ingest.status(job.id)
    assert status.state == "Aborted" and status.terminal  # no batch can reach it any more
    with pytest.raises(BulkApiError):
        bulk1.add_batch(job.id, b"Name\nLate\n")


def test_json_and_xml_jobs_through_the_raw_client(bulk1, clock):
    job = bulk1.create_job("Account", "insert", content_type="JSON", concurrency_mode="Parallel")
    assert job.is_json and job.state == "Open" and job.content_type == "JSON"
    records = [{"Name": "Json One", "Legacy_Id__c": "J-1"}, {"Legacy_Id__c": "J-2"}]
    batch = bulk1.add_batch(job.id, json.dumps(records).encode(), "JSON")
    assert batch.job_id == job.id and batch.state in ("Queued", "InProgress", "Completed")
    wait_for_batches(bulk1, job.id, clock=clock, sleep=clock.sleep, timeout=60)
    results = bulk1.batch_result(job.id, batch.id)
    assert results.success.to_pylist() == [True, False]
    assert results.ids.to_pylist()[0].startswith("001")
    assert results.errors.to_pylist()[1].startswith("REQUIRED_FIELD_MISSING:")
    assert json.loads(bulk1.batch_request(job.id, batch.id)) == records
    assert bulk1.close_job(job.id, as_json=True).state == "Closed"

    xml_job = bulk1.create_job("Account", "insert", content_type="XML")
    body = (b'<?xml version="1.0" encoding="UTF-8"?><sObjects xmlns="http://www.force.com/2009/06/asyncapi/'
            b'dataload"><sObject><Name>Xml One</Name><Legacy_Id__c>X-1</Legacy_Id__c></sObject></sObjects>')
    xml_batch = bulk1.add_batch(xml_job.id, body, "XML")
    wait_for_batches(bulk1, xml_job.id, clock=clock, sleep=clock.sleep, timeout=60)
    xml_results = bulk1.batch_result(xml_job.id, xml_batch.id)
    assert xml_results.success.to_pylist() == [True] and xml_results.created.to_pylist() == ["true"]
    assert bulk1.close_job(xml_job.id).state == "Closed"


def test_expired_sessions_are_renewed_for_bulk1_calls(org, bulk1, credentials, clock, tmp_path):
    org.set_faults({"expire_token_after": 3})
    ingest = Bulk1Ingest(bulk1, max_batch_records=2)
    source = write_csv(tmp_path / "a.csv", ["Name"], [[f"Renew {n}"] for n in range(6)])
    _, status = _load(ingest, clock, JobRequest("Account", "insert", None, source))
    assert status.state == "JobComplete" and status.records_processed == 6
    assert credentials.logins >= 2


def test_server_refusals_map_to_errors(bulk1):
    with pytest.raises(BulkApiError) as unknown:
        bulk1.get_job("750000000000000AAA")
    assert unknown.value.status in (400, 404) and unknown.value.error_code
    with pytest.raises(InvalidRequestError):
        bulk1.create_job("NoSuchObject__c", "insert")
