"""Third-party Bulk API 1.0 clients, unmodified, against the local org over HTTPS.

heroku's salesforce-bulk calls ``requests.get/post`` without a session, so its requests trust the
org's CA through ``REQUESTS_CA_BUNDLE`` (set for the test only; the integration conftest unsets it).
simple-salesforce's ``sf.bulk`` gets a session that trusts the CA. The module has its own org (its
query jobs would show in the shared org's Bulk 2.0 query list; PK chunks cover the whole table).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
import requests
from salesforce_bulk import CsvDictsAdapter, SalesforceBulk
from salesforce_bulk.salesforce_bulk import BulkBatchFailed
from simple_salesforce import Salesforce

from migrator.localorg.server import LocalOrgServer
from tests.integration.conftest import unique

POLL = 0.02  # seconds between salesforce-bulk's polls (its default is 10)


@pytest.fixture(scope="module")
def client_org(tmp_path_factory, legacy_schema_file) -> Iterator[LocalOrgServer]:
    with LocalOrgServer(tmp_path_factory.mktemp("bulk1-clients") / "org.db", schema_files=[legacy_schema_file]) as org:
        yield org


@pytest.fixture
def hk(client_org, monkeypatch) -> SalesforceBulk:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(client_org.ca_file))
    host = client_org.instance_url.removeprefix("https://")
    return SalesforceBulk(sessionId=client_org.access_token, host=host, API_version="62.0")


@pytest.fixture
def sf(client_org) -> Salesforce:
    session = requests.Session()
    session.verify = str(client_org.ca_file)
    return Salesforce(instance_url=client_org.instance_url, session_id=client_org.access_token, session=session)


def _csv_rows(stream) -> list[dict[str, str]]:
    return list(csv.DictReader(io.TextIOWrapper(stream, encoding="utf-8")))


def _insert_accounts(hk: SalesforceBulk, tag: str, count: int) -> list[str]:
    job = hk.create_insert_job("Account", contentType="CSV")
    rows = [{"Name": f"HK {tag} {n:03d}", "Legacy_Id__c": f"{tag}-{n:03d}"} for n in range(count)]
    batch = hk.post_batch(job, CsvDictsAdapter(iter(rows)))
    hk.wait_for_batch(job, batch, sleep_interval=POLL)
    hk.close_job(job)
    results = hk.get_batch_results(batch, job)
    assert [(r.success, r.created, r.error) for r in results] == [("true", "true", "")] * count
    return [r.id for r in results]


def test_salesforce_bulk_csv_insert_with_a_failing_row(hk):
    tag = unique("HK")
    ids = _insert_accounts(hk, tag, 5)
    assert all(i.startswith("001") and len(i) == 18 for i in ids)
    job = hk.create_insert_job("Account", contentType="CSV")
    batch = hk.post_batch(job, CsvDictsAdapter(iter([{"Name": "", "Legacy_Id__c": f"{tag}-X"}])))
    hk.wait_for_batch(job, batch, sleep_interval=POLL)
    [failed] = hk.get_batch_results(batch, job)
    assert (failed.id, failed.success, failed.created) == ("", "false", "false")
    assert failed.error == "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    assert hk.job_status(job)["numberRecordsFailed"] == "1"
    hk.abort_job(job)
    assert hk.job_state(job) == "Aborted"


def test_salesforce_bulk_query_job(hk):
    tag = unique("HQ")
    ids = _insert_accounts(hk, tag, 4)
    job = hk.create_query_job("Account", contentType="CSV")
    batch = hk.query(job, f"SELECT Id, Name FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' ORDER BY Name")
    hk.close_job(job)
    hk.wait_for_batch(job, batch, sleep_interval=POLL)
    rows = [row for result in hk.get_all_results_for_query_batch(batch, job) for row in _csv_rows(result)]
    assert [r["Id"] for r in rows] == ids
    failing = hk.create_query_job("Account", contentType="CSV")
    bad = hk.query(failing, "SELECT Id FROM Contact")
    with pytest.raises(BulkBatchFailed, match="INVALID_TYPE_FOR_OPERATION"):
        hk.wait_for_batch(failing, bad, sleep_interval=POLL)


def test_salesforce_bulk_pk_chunked_query(hk):
    tag = unique("HP")
    _insert_accounts(hk, tag, 30)
    soql = "SELECT Id, Name FROM Account"
    plain = hk.create_query_job("Account", contentType="CSV")
    batch = hk.query(plain, soql)
    hk.wait_for_batch(plain, batch, sleep_interval=POLL)
    everything = {row["Id"]: row for result in hk.get_all_results_for_query_batch(batch, plain)
                  for row in _csv_rows(result)}

    job = hk.create_query_job("Account", contentType="CSV", pk_chunking=10)  # sends "chunkSize=10;"
    original = hk.query(job, soql)
    hk.close_job(job)
    for _ in range(500):
        batches = hk.get_batch_list(job)
        if all(b["state"] in ("Completed", "NotProcessed") for b in batches) and len(batches) > 1:
            break
    chunks = [b for b in batches if b["state"] != "NotProcessed"]
    assert [b["id"] for b in batches if b["state"] == "NotProcessed"] == [original]
    assert len(chunks) >= 3
    rows: dict[str, dict] = {}
    for chunk in chunks:
        assert hk.get_query_batch_request(chunk["id"], job).startswith(soql)
        for result in hk.get_all_results_for_query_batch(chunk["id"], job):
            for row in _csv_rows(result):
                assert row["Id"] not in rows
                rows[row["Id"]] = row
    assert rows == everything


def test_salesforce_bulk_json_and_xml_jobs(hk):
    tag = unique("HJ")
    job = hk.create_insert_job("Account", contentType="JSON")
    batch = hk.post_batch(job, json.dumps([{"Name": f"HJ {tag}", "Legacy_Id__c": tag}, {"Name": None}]))
    hk.wait_for_batch(job, batch, sleep_interval=POLL)
    ok, bad = hk.get_batch_results(batch, job)
    assert (ok.success, ok.created, bad.success) == (True, True, False)
    assert bad.error == [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]",
                          "fields": ["Name"]}]
    assert len(hk.get_batch_list(job)) == 1

    job = hk.create_insert_job("Contact", contentType="XML")
    body = ('<sObjects xmlns="http://www.force.com/2009/06/asyncapi/dataload"><sObject><LastName>HX</LastName>'
            f"<Account><sObject><Legacy_Id__c>{tag}</Legacy_Id__c></sObject></Account></sObject><sObject>"
            "<FirstName>No last name</FirstName></sObject></sObjects>")
    batch = hk.post_batch(job, body)
    hk.wait_for_batch(job, batch, sleep_interval=POLL)
    linked, missing = hk.get_batch_results(batch, job)
    assert (linked.success, linked.created, missing.success) == (True, True, False)
    assert missing.error == [{"fields": ["LastName"], "message": "Required fields are missing: [LastName]",
                              "statusCode": "REQUIRED_FIELD_MISSING"}]


def test_simple_salesforce_bulk_insert_upsert_query_delete(sf):
    tag = unique("SB")
    inserted = sf.bulk.Account.insert([{"Name": f"SB {tag} 1", "Legacy_Id__c": f"{tag}-1"},
                                       {"Name": None, "Legacy_Id__c": f"{tag}-bad"}])
    assert inserted[0]["success"] is True and inserted[0]["id"].startswith("001")
    assert inserted[1] == {"success": False, "created": False, "id": None,
                           "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                       "message": "Required fields are missing: [Name]", "fields": ["Name"]}]}
    upserted = sf.bulk.Account.upsert([{"Name": f"SB {tag} 1 again", "Legacy_Id__c": f"{tag}-1"},
                                       {"Name": f"SB {tag} 2", "Legacy_Id__c": f"{tag}-2"}], "Legacy_Id__c",
                                      use_serial=True)
    assert [(r["success"], r["created"]) for r in upserted] == [(True, False), (True, True)]
    assert upserted[0]["id"] == inserted[0]["id"]
    rows = sf.bulk.Account.query(f"SELECT Id, Name FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' ORDER BY Name",
                                 wait=0.05)
    assert [r["Name"] for r in rows] == [f"SB {tag} 1 again", f"SB {tag} 2"]
    assert rows[0]["attributes"]["type"] == "Account"
    detailed = sf.bulk.Contact.insert([{"LastName": f"SB {tag}", "Account": {"Legacy_Id__c": f"{tag}-2"}}],
                                      include_detailed_results=True)
    assert detailed[0]["success"] is True and detailed[0]["Account.Legacy_Id__c"] == f"{tag}-2"
    deleted = sf.bulk.Account.delete([{"Id": upserted[1]["id"]}])
    assert deleted[0]["success"] is True
    remaining = sf.bulk.Account.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Legacy_Id__c = '{tag}-2'",
                                          wait=0.05)
    assert remaining == [{"attributes": remaining[0]["attributes"], "Id": upserted[1]["id"], "IsDeleted": True}]
