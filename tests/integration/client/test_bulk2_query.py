"""Bulk API 2.0 query jobs and result paging, against the real local org."""

from __future__ import annotations

import csv
import io

import pytest

from migrator.errors import InvalidRequestError


@pytest.fixture
def accounts(bulk, clock):
    body = "Name,Legacy_Id__c\n" + "".join(f"Acct {n:02d},Q-{n:02d}\n" for n in range(25))
    job = bulk.create_ingest_job("Account", "insert")
    bulk.upload_job_data(job.id, body.encode())
    bulk.close_job(job.id)
    assert bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=60).number_records_failed == 0
    return 25


def test_query_in_several_pages(bulk, clock, accounts):
    job = bulk.create_query_job("SELECT Id, Name, Legacy_Id__c FROM Account")
    assert job.operation == "query"
    done = bulk.wait_for_job(job.id, "query", clock=clock, sleep=clock.sleep, timeout=60)
    assert done.state == "JobComplete"

    pages = list(bulk.iter_query_result_pages(job.id, max_records=10))
    assert [page.number_of_records for page in pages] == [10, 10, 5]
    assert [page.next_locator is None for page in pages] == [False, False, True]
    keys: list[str] = []
    for page in pages:
        rows = list(csv.DictReader(io.StringIO(page.data.decode())))
        assert list(rows[0]) == ["Id", "Name", "Legacy_Id__c"]  # every page has the header
        keys += [row["Legacy_Id__c"] for row in rows]
    assert sorted(keys) == [f"Q-{n:02d}" for n in range(25)]


def test_download_query_results_writes_one_csv(bulk, clock, accounts, tmp_path):
    job = bulk.create_query_job("SELECT Name FROM Account", operation="queryAll")
    bulk.wait_for_job(job.id, "query", clock=clock, sleep=clock.sleep, timeout=60)
    count = bulk.download_query_results(job.id, tmp_path / "out" / "accounts.csv", max_records=7)
    text = (tmp_path / "out" / "accounts.csv").read_text()
    assert count == 25
    assert text.count("Name") == 1 and len(text.strip().splitlines()) == 26


def test_query_list_abort_delete(bulk, clock, accounts):
    job = bulk.create_query_job("SELECT Id FROM Account")
    assert job.id in {info.id for info in bulk.list_query_jobs()}
    bulk.wait_for_job(job.id, "query", clock=clock, sleep=clock.sleep, timeout=60)
    bulk.delete_job(job.id, "query")
    assert job.id not in {info.id for info in bulk.list_query_jobs()}


def test_bad_soql_is_refused_at_create(bulk):
    with pytest.raises(InvalidRequestError) as caught:
        bulk.create_query_job("SELECT Nope__x FROM Account")
    assert caught.value.status == 400 and caught.value.error_code
