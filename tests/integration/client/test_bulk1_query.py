"""Bulk API 1.0 queries (plain and PK-chunked) and a binary-attachment (ZIP_CSV) load, against the
real local org over loopback HTTPS."""

from __future__ import annotations

import csv
import io
import logging

import pytest

from migrator.client.bulk1 import BatchInfo, Bulk1Client, pk_chunked_query, query, wait_for_batches, zip_batch
from migrator.client.bulk2 import Bulk2Client
from migrator.errors import BulkApiError

from .support import read_rows

ACCOUNTS = 2_500


class RecordingClient(Bulk1Client):
    """The real client, remembering the last batch list it read (to see the chunks)."""

    last_batches: list[BatchInfo] = []

    def list_batches(self, job_id: str) -> list[BatchInfo]:
        self.last_batches = super().list_batches(job_id)
        return self.last_batches


@pytest.fixture
def bulk1(api) -> RecordingClient:
    return RecordingClient(api)


@pytest.fixture
def accounts(bulk: Bulk2Client, clock) -> dict[str, str]:
    """2,500 accounts loaded through Bulk 2.0; {Legacy_Id__c: Name}."""
    lines = ["Name,Legacy_Id__c,Description"] + [f'Acme {n},Q-{n:05d},"line one\nline two {n}"'
                                                 for n in range(ACCOUNTS)]
    job = bulk.create_ingest_job("Account", "insert")
    bulk.upload_job_data(job.id, ("\n".join(lines) + "\n").encode())
    bulk.close_job(job.id)
    assert bulk.wait_for_job(job.id, clock=clock, sleep=clock.sleep, timeout=120).number_records_processed == ACCOUNTS
    return {f"Q-{n:05d}": f"Acme {n}" for n in range(ACCOUNTS)}



def test_query_and_pk_chunked_query_return_the_same_rows(bulk1, accounts, clock, tmp_path, caplog):
    soql = "SELECT Id, Name, Legacy_Id__c, Description FROM Account"
    plain = tmp_path / "plain.csv"
    assert query(bulk1, soql, "Account", plain, clock=clock, sleep=clock.sleep, timeout=120) == ACCOUNTS
    plain_rows = read_rows(plain)
    assert {r["Legacy_Id__c"]: r["Name"] for r in plain_rows} == accounts
    assert plain_rows[0]["Description"].startswith("line one\nline two")

    caplog.set_level(logging.INFO, logger="migrator.client")
    chunked = tmp_path / "chunked.csv"
    count = pk_chunked_query(bulk1, soql, "Account", chunked, chunk_size=1000, clock=clock, sleep=clock.sleep,
                             timeout=120)
    assert count == ACCOUNTS
    chunked_rows = read_rows(chunked)
    assert sorted(r["Id"] for r in chunked_rows) == sorted(r["Id"] for r in plain_rows)
    assert len({r["Id"] for r in chunked_rows}) == ACCOUNTS  # no chunk overlaps another
    assert chunked.read_text(encoding="utf-8").count('"Id","Name","Legacy_Id__c","Description"') == 1
    states = [b.state for b in bulk1.last_batches]
    assert states.count("NotProcessed") == 1 and states.count("Completed") >= 3
    original = next(b for b in bulk1.last_batches if b.state == "NotProcessed")
    chunk = next(b for b in bulk1.last_batches if b.state == "Completed")
    assert bulk1.batch_request(bulk1.last_batches[0].job_id, chunk.id).decode().startswith(soql)
    assert original.id != chunk.id


def test_query_with_no_rows_writes_an_empty_file(bulk1, clock, tmp_path):
    dest = tmp_path / "none.csv"
    assert query(bulk1, "SELECT Id FROM Account WHERE Name = 'nobody'", "Account", dest, clock=clock,
                 sleep=clock.sleep, timeout=60) == 0
    assert dest.read_bytes() == b""
    assert pk_chunked_query(bulk1, "SELECT Id FROM Account", "Account", dest, chunk_size=100, clock=clock,
                            sleep=clock.sleep, timeout=60) == 0


def test_a_bad_query_fails_with_the_server_message(bulk1, clock, tmp_path):
    with pytest.raises(BulkApiError) as caught:
        query(bulk1, "SELECT NoSuchField__c FROM Account", "Account", tmp_path / "x.csv", clock=clock,
              sleep=clock.sleep, timeout=60)
    assert "NoSuchField__c" in str(caught.value)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.part").exists()


def test_zip_attachment_load(api, bulk, bulk1, clock, tmp_path):
    parent = bulk.create_ingest_job("Account", "insert")
    bulk.upload_job_data(parent.id, b"Name\nHas Files\n")
    bulk.close_job(parent.id)
    bulk.wait_for_job(parent.id, clock=clock, sleep=clock.sleep, timeout=60)
    account_id = next(csv.DictReader(io.StringIO(bulk.successful_results(parent.id).decode())))["sf__Id"]
    picture = bytes(range(256)) * 40
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerows([["Name", "ParentId", "Body"], ["notes.txt", account_id, "#docs/notes.txt"],
                      ["pixels.bin", account_id, "#pixels.bin"], ["missing.txt", account_id, "#nope.txt"]])
    data = zip_batch(manifest.getvalue().encode(), {"docs/notes.txt": "héllo\r\nwörld".encode(),
                                                    "pixels.bin": picture})
    job = bulk1.create_job("Attachment", "insert", content_type="ZIP_CSV")
    assert job.content_type == "ZIP_CSV"
    batch = bulk1.add_batch(job.id, data, "ZIP_CSV")
    wait_for_batches(bulk1, job.id, clock=clock, sleep=clock.sleep, timeout=60)
    assert bulk1.get_batch(job.id, batch.id).state == "Completed"
    results = bulk1.batch_result(job.id, batch.id)
    assert results.success.to_pylist() == [True, True, False]
    assert results.errors.to_pylist()[2].startswith("INVALID_FIELD")
    ids = results.ids.to_pylist()
    for attachment_id, expected in ((ids[0], "héllo\r\nwörld".encode()), (ids[1], picture)):
        with api.request("GET", f"sobjects/Attachment/{attachment_id}/Body", headers={"Accept": "*/*"}) as body:
            assert body.content == expected
    bulk1.close_job(job.id)
