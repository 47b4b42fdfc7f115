"""Bulk API 2.0 query jobs and result paging, against the real local org."""

from __future__ import annotations

import csv
import io
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from migrator.client.bulk2 import Bulk2Client, ResultPage
from migrator.client.http import ApiSession
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


def _keys(pages: list[ResultPage], column: str) -> list[str]:
    keys: list[str] = []
    for page in pages:
        rows = list(csv.DictReader(io.StringIO(page.data.decode())))
        assert len(rows) == page.number_of_records
        keys += [row[column] for row in rows]
    return keys


def test_result_pages_cover_every_row_once(tuned_bulk, clock, caplog):
    bulk = tuned_bulk(query_page_rows=4)
    names = [f"Parallel {n:02d}" for n in range(25)]
    loaded = bulk.create_ingest_job_with_data("Account", "insert", ("Name\n" + "\n".join(names) + "\n").encode())
    assert bulk.wait_for_job(loaded.id, clock=clock, sleep=clock.sleep, timeout=60).number_records_processed == 25
    job = bulk.create_query_job("SELECT Id, Name FROM Account")
    bulk.wait_for_job(job.id, "query", clock=clock, sleep=clock.sleep, timeout=60)

    caplog.set_level(logging.DEBUG, logger="migrator.client")
    urls = list(bulk.iter_query_result_urls(job.id))
    assert len(urls) == len(set(urls)) == 7  # pages of 4 rows: 5 URLs, then 2 more via nextRecordsUrl
    assert caplog.text.lower().count("/resultpages ->") == 2
    with ThreadPoolExecutor(3) as pool:
        pages = list(pool.map(lambda url: bulk.get_query_result_page(url, job.id), urls))
    assert [page.number_of_records for page in pages] == [4] * 6 + [1]
    by_url = _keys(pages, "Name")
    assert sorted(by_url) == names  # every row, none twice
    assert sorted(by_url) == sorted(_keys(list(bulk.iter_query_result_pages(job.id)), "Name"))


def test_result_pages_of_an_empty_result(bulk, clock):
    job = bulk.create_query_job("SELECT Id FROM Account")
    bulk.wait_for_job(job.id, "query", clock=clock, sleep=clock.sleep, timeout=60)
    pages = [bulk.get_query_result_page(url, job.id) for url in bulk.iter_query_result_urls(job.id)]
    assert [(page.number_of_records, page.next_locator, page.data.strip()) for page in pages] == [(0, None, b'"Id"')]


def test_result_pages_refused_before_v58(http, credentials, clock):
    modern = Bulk2Client(ApiSession(http, credentials))
    job = modern.create_query_job("SELECT Id FROM Account")
    modern.wait_for_job(job.id, "query", clock=clock, sleep=clock.sleep, timeout=60)
    logins = credentials.logins
    old = Bulk2Client(ApiSession(http, credentials, api_version="57.0"))
    with pytest.raises(InvalidRequestError, match=r"58\.0 or later; this session uses 57\.0") as caught:
        old.iter_query_result_urls(job.id)
    assert caught.value.status is None and credentials.logins == logins  # refused before any request


def test_query_list_follows_next_records_url(tuned_bulk, caplog):
    caplog.set_level(logging.DEBUG, logger="migrator.client")
    bulk = tuned_bulk(list_page_size=2)
    created = {bulk.create_query_job("SELECT Id FROM Account").id for _ in range(5)}
    bulk.create_ingest_job("Account", "insert")  # on the other list
    seen = [info.id for info in bulk.list_query_jobs()]
    assert sorted(seen) == sorted(created)
    assert caplog.text.count("GET ") == 3  # pages of 2, 2 and 1
