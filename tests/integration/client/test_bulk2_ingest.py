"""Bulk API 2.0 ingest through our client, against the real local org over loopback HTTPS."""

from __future__ import annotations

import csv
import io
import logging

import pytest

from migrator.client.bulk2 import JobInfo
from migrator.client.ingest import Bulk2Ingest, IngestClient, JobRequest, wait_for_status
from migrator.errors import InvalidRequestError, LimitExceededError, NotFoundError, TransientApiError

from .support import read_rows, write_csv


def test_full_insert_job_through_the_executor_interface(bulk, clock, tmp_path):
    ingest = Bulk2Ingest(bulk)
    assert isinstance(ingest, IngestClient) and ingest.api_name == "bulk2"
    rows = [[f"Acme {n}", f"A-{n}", "Technology"] for n in range(20)] + [["", "A-bad", "Finance"]]
    source = write_csv(tmp_path / "accounts.csv", ["Name", "Legacy_Id__c", "Industry"], rows)

    created: list[str] = []
    job_id = ingest.submit(JobRequest("Account", "insert", None, source), on_created=created.append)
    assert created == [job_id]
    polled: list[str] = []
    status = wait_for_status(ingest, job_id, clock=clock, sleep=clock.sleep, timeout=60,
                             on_poll=lambda s: polled.append(s.state))
    assert status.terminal and not status.failed and status.state == "JobComplete"
    assert (status.records_processed, status.records_failed) == (21, 1)
    assert polled[-1] == "JobComplete"

    results = ingest.results(job_id, tmp_path / "results")
    succeeded = read_rows(results.success_csv)
    assert len(succeeded) == 20
    assert list(succeeded[0])[:2] == ["sf__Id", "sf__Created"]
    assert {r["Legacy_Id__c"] for r in succeeded} == {f"A-{n}" for n in range(20)}
    assert all(r["sf__Id"].startswith("001") and r["sf__Created"] == "true" for r in succeeded)
    failed = read_rows(results.failed_csv)
    assert [r["Legacy_Id__c"] for r in failed] == ["A-bad"]
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    assert read_rows(results.unprocessed_csv) == []
    assert results.unprocessed_csv.read_text().startswith("Name")
    assert not list((tmp_path / "results").glob("*.part"))


def test_upsert_with_external_id_gzip_upload_and_result_bytes(bulk, clock, tmp_path):
    first = bulk.create_ingest_job("Account", "insert")
    bulk.upload_job_data(first.id, b"Name,Legacy_Id__c\nOld Name,K-1\n")
    bulk.close_job(first.id)
    bulk.wait_for_job(first.id, clock=clock, sleep=clock.sleep, timeout=60)

    job = bulk.create_ingest_job("Account", "upsert", external_id_field="Legacy_Id__c")
    assert isinstance(job, JobInfo) and job.state == "Open"
    assert job.external_id_field_name == "Legacy_Id__c"
    source = write_csv(tmp_path / "up.csv", ["Name", "Legacy_Id__c"],
                        [["New Name", "K-1"], ["Fresh", "K-2"]])
    bulk.upload_job_data(job.id, source, gzip=True)
    closed = bulk.close_job(job.id)
    assert closed.state in ("UploadComplete", "InProgress", "JobComplete")
    final = bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=60)
    assert final.state == "JobComplete" and final.number_records_processed == 2
    created = {row["Legacy_Id__c"]: row["sf__Created"]
               for row in csv.DictReader(io.StringIO(bulk.successful_results(job.id).decode()))}
    assert created == {"K-1": "false", "K-2": "true"}
    assert bulk.failed_results(job.id).decode().startswith('"sf__Id","sf__Error"')


def test_list_abort_delete(bulk):
    job = bulk.create_ingest_job("Contact", "insert")
    listed = {info.id: info for info in bulk.list_ingest_jobs()}
    assert job.id in listed and listed[job.id].state == "Open"
    with pytest.raises(InvalidRequestError):
        bulk.delete_job(job.id)  # an Open job cannot be deleted
    aborted = bulk.abort_job(job.id)
    assert aborted.state == "Aborted" and aborted.is_failed
    with pytest.raises(InvalidRequestError):
        bulk.abort_job(job.id)  # already terminal
    bulk.delete_job(job.id)
    with pytest.raises(NotFoundError) as caught:
        bulk.get_ingest_job(job.id)
    assert caught.value.job_id == job.id and caught.value.status == 404


def test_list_follows_next_records_url(tuned_bulk, caplog):
    caplog.set_level(logging.DEBUG, logger="migrator.client")
    bulk = tuned_bulk(list_page_size=2)
    created = {bulk.create_ingest_job("Lead", "insert").id for _ in range(5)}
    seen = [info.id for info in bulk.list_ingest_jobs()]
    assert sorted(seen) == sorted(created)
    assert caplog.text.count("GET ") == 3  # pages of 2, 2 and 1


def _csv_of(chars: int) -> bytes:
    """Account CSV of exactly `chars` characters, two bytes for most of them (é), so a limit counted
    in bytes instead of characters would show."""
    body = "Name\n"
    while len(body) < chars:
        body += "é" * min(99, chars - len(body) - 1) + "\n"
    return body.encode("utf-8")


def test_multipart_create_loads_rows(bulk, clock):
    data = "Name,Legacy_Id__c\n" + "".join(f"Multi {n},MP-{n}\n" for n in range(30))
    job = bulk.create_ingest_job_with_data("Account", "insert", data.encode())
    assert job.state == "UploadComplete" and job.object == "Account"
    final = bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=60)
    assert final.state == "JobComplete"
    assert (final.number_records_processed, final.number_records_failed) == (30, 0)
    loaded = list(csv.DictReader(io.StringIO(bulk.successful_results(job.id).decode())))
    assert sorted(row["Legacy_Id__c"] for row in loaded) == sorted(f"MP-{n}" for n in range(30))
    assert all(row["sf__Created"] == "true" and row["sf__Id"].startswith("001") for row in loaded)


def test_multipart_create_sends_job_options(bulk, clock):
    bulk.create_ingest_job_with_data("Account", "insert", b"Name,Legacy_Id__c\nOld,MO-1\n")
    data = b"Name;Legacy_Id__c\r\nRenamed;MO-1\r\nFresh;MO-2\r\n"
    job = bulk.create_ingest_job_with_data("Account", "upsert", data, external_id_field="Legacy_Id__c",
                                           line_ending="CRLF", column_delimiter="SEMICOLON")
    assert (job.external_id_field_name, job.line_ending, job.column_delimiter) == ("Legacy_Id__c", "CRLF",
                                                                                   "SEMICOLON")
    final = bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=60)
    assert (final.state, final.number_records_processed, final.number_records_failed) == ("JobComplete", 2, 0)
    results = csv.DictReader(io.StringIO(bulk.successful_results(job.id).decode(), newline=""), delimiter=";")
    assert {row["Legacy_Id__c"]: (row["sf__Created"], row["Name"]) for row in results} == {
        "MO-1": ("false", "Renamed"), "MO-2": ("true", "Fresh")}


def test_multipart_limit_counts_characters_and_refuses_before_any_request(bulk, credentials, clock, caplog):
    caplog.set_level(logging.DEBUG, logger="migrator.client")
    oversized = _csv_of(100_001)
    assert len(oversized.decode()) == 100_001
    with pytest.raises(LimitExceededError, match="100,000") as caught:
        bulk.create_ingest_job_with_data("Account", "insert", oversized)
    assert caught.value.status is None  # refused here, not by the server
    assert credentials.logins == 0 and "POST" not in caplog.text  # not even a login happened

    at_limit = _csv_of(100_000)
    assert len(at_limit) > 100_000  # more bytes than the limit, yet exactly 100,000 characters
    job = bulk.create_ingest_job_with_data("Account", "insert", at_limit)
    final = bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=60)
    assert final.state == "JobComplete" and final.number_records_processed == at_limit.count(b"\n") - 1
    assert [info.id for info in bulk.list_ingest_jobs()] == [job.id]  # the refused one never existed


def test_multipart_create_refuses_bad_options_before_any_request(bulk, credentials):
    with pytest.raises(InvalidRequestError, match="external id"):
        bulk.create_ingest_job_with_data("Account", "upsert", b"Name\nA\n")
    with pytest.raises(InvalidRequestError, match="column_delimiter"):
        bulk.create_ingest_job_with_data("Account", "insert", b"Name\nA\n", column_delimiter="DASH")
    assert credentials.logins == 0


def test_submit_aborts_the_job_when_upload_fails(org, bulk, tmp_path):
    org.set_faults({"upload_503": 1})
    source = write_csv(tmp_path / "a.csv", ["Name"], [["Acme"]])
    created: list[str] = []
    with pytest.raises(TransientApiError) as caught:
        Bulk2Ingest(bulk).submit(JobRequest("Account", "insert", None, source), on_created=created.append)
    assert caught.value.status == 503 and [caught.value.job_id] == created
    assert bulk.get_ingest_job(caught.value.job_id).state == "Aborted"


def test_submit_refuses_oversized_and_missing_files(bulk, tmp_path):
    source = write_csv(tmp_path / "a.csv", ["Name"], [["Acme"]] * 10)
    with pytest.raises(LimitExceededError, match="split the file"):
        Bulk2Ingest(bulk, max_upload_bytes=10).submit(JobRequest("Account", "insert", None, source))
    with pytest.raises(InvalidRequestError, match=r"missing\.csv"):
        Bulk2Ingest(bulk).submit(JobRequest("Account", "insert", None, tmp_path / "missing.csv"))
    assert not [j for j in bulk.list_ingest_jobs() if j.object == "Account"]  # nothing was created


def test_server_refusals_map_to_errors(bulk):
    with pytest.raises(InvalidRequestError):
        bulk.create_ingest_job("NoSuchObject__c", "insert")
    with pytest.raises(NotFoundError):
        bulk.get_ingest_job("750000000000000AAA")
    with pytest.raises(InvalidRequestError, match="external id"):
        bulk.create_ingest_job("Account", "upsert")  # refused before any call


def test_failed_job_reports_error_message_and_unprocessed(org, bulk, clock, tmp_path):
    org.set_faults({"fail_job_after": 0})
    job_id = Bulk2Ingest(bulk).submit(JobRequest("Account", "insert", None,
                                                 write_csv(tmp_path / "a.csv", ["Name"], [["A"], ["B"]])))
    status = wait_for_status(Bulk2Ingest(bulk), job_id, clock=clock, sleep=clock.sleep, timeout=60)
    assert status.failed and status.state == "Failed" and status.error_message
    results = Bulk2Ingest(bulk).results(job_id, tmp_path)
    assert len(read_rows(results.success_csv)) + len(read_rows(results.unprocessed_csv)) == 2
