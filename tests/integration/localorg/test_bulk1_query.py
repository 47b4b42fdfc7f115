"""Bulk API 1.0 query and queryAll jobs over plain HTTP: result lists, result sets, PK chunking.

The module has its own org: Bulk 1.0 query jobs appear in the Bulk 2.0 query job list, and PK chunks
are cut over the whole table, so a small table keeps the chunk count (and the test) small.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest

from migrator.localorg.server import LocalOrgServer
from tests.integration.conftest import unique

from .bulk1_support import NS, XSI, Bulk1, session_for, xml_fields


@pytest.fixture(scope="module")
def query_org(tmp_path_factory, legacy_schema_file) -> Iterator[LocalOrgServer]:
    with LocalOrgServer(tmp_path_factory.mktemp("bulk1-query") / "org.db", schema_files=[legacy_schema_file]) as org:
        yield org


@pytest.fixture
def bulk(query_org) -> Bulk1:
    return Bulk1(query_org, session_for(query_org))


def _accounts(bulk: Bulk1, tag: str, count: int) -> list[str]:
    body = "Name,Legacy_Id__c,Score__c\n" + "".join(f"Q {tag} {n:03d},{tag}-{n:03d},{n}.5\n" for n in range(count))
    job, batch = bulk.load("insert", "Account", body)
    assert batch["numberRecordsFailed"] == "0"
    return [row["Id"] for row in bulk.csv_results(job, batch)]


def _query(bulk: Bulk1, soql: str, content_type: str = "CSV", operation: str = "query", object_name: str = "Account",
           headers: dict | None = None) -> tuple[dict, dict]:
    job = bulk.create(operation, object_name, content_type, headers=headers)
    batch = bulk.add(job, soql, "text/plain")  # query batches are read whatever the Content-Type
    assert bulk.set_state(job, "Closed").status_code == 200  # closed before polling, as simple-salesforce does
    return job, bulk.wait(job, batch)


def test_csv_query_result_list_and_quoted_result_set(bulk):
    tag = unique("QC")
    ids = _accounts(bulk, tag, 3)
    job, batch = _query(bulk, f"SELECT Id, Name, Score__c, Owner.Username FROM Account WHERE Legacy_Id__c LIKE "
                              f"'{tag}-%' ORDER BY Name")
    assert (batch["state"], batch["numberRecordsProcessed"]) == ("Completed", "3")
    listing = bulk.result(job, batch)
    assert listing.headers["Content-Type"] == "application/xml"  # a CSV job's result list is XML
    root = ElementTree.fromstring(listing.content)
    assert root.tag == f"{{{NS}}}result-list"
    [result_id] = [r.text for r in root]
    assert result_id.startswith("752")
    data = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/result/{result_id}")
    assert data.headers["Content-Type"] == "text/csv"
    lines = data.text.splitlines()
    assert lines[0] == '"Id","Name","Score__c","Owner.Username"'
    assert lines[1] == f'"{ids[0]}","Q {tag} 000","0.5","admin@local.org"'
    assert [row["Id"] for row in bulk.query_rows(job, batch)] == ids
    request = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/request")
    assert request.text.startswith("SELECT Id, Name, Score__c")


def test_zero_rows_and_query_all(bulk):
    tag = unique("QZ")
    job, batch = _query(bulk, f"SELECT Id FROM Account WHERE Legacy_Id__c = '{tag}'")
    assert (batch["state"], batch["numberRecordsProcessed"]) == ("Completed", "0")
    [result_id] = [r.text for r in ElementTree.fromstring(bulk.result(job, batch).content)]
    empty = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/result/{result_id}")
    assert empty.text == "Records not found for this query"

    [record_id] = _accounts(bulk, tag, 1)
    deleted_job, deleted = bulk.load("delete", "Account", f"Id\n{record_id}\n")
    assert bulk.csv_results(deleted_job, deleted)[0]["Success"] == "true"
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Legacy_Id__c LIKE '{tag}-%'"
    assert bulk.query_rows(*_query(bulk, soql)) == []
    assert bulk.query_rows(*_query(bulk, soql, operation="queryAll")) == [{"Id": record_id, "IsDeleted": "true"}]


def test_json_and_xml_query_results(bulk):
    tag = unique("QJ")
    ids = _accounts(bulk, tag, 2)
    soql = f"SELECT Id, Name, Score__c, Active__c, Owner.Username FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' " \
           f"ORDER BY Name"
    job, batch = _query(bulk, soql, "JSON")
    listing = bulk.result(job, batch)
    assert listing.headers["Content-Type"] == "application/json" and len(listing.json()) == 1
    first = bulk.query_rows(job, batch)[0]
    assert first["attributes"] == {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{ids[0]}"}
    assert (first["Score__c"], first["Active__c"], first["Owner"]["Username"]) == (0.5, False, "admin@local.org")

    job, batch = _query(bulk, soql.replace("SELECT Id, ", "SELECT "), "XML")
    [result_id] = [r.text for r in ElementTree.fromstring(bulk.result(job, batch).content)]
    data = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/result/{result_id}")
    assert data.headers["Content-Type"] == "application/xml"
    root = ElementTree.fromstring(data.content)
    assert root.tag == f"{{{NS}}}queryResult"
    record = root[0]
    assert record.get(f"{{{XSI}}}type") == "sObject"
    assert [c.tag.split("}")[1] for c in record][:3] == ["type", "Id", "Name"]
    assert record.find(f"{{{NS}}}Id").get(f"{{{XSI}}}nil") == "true"  # Id not selected: nil
    assert record.findtext(f"{{{NS}}}Owner/{{{NS}}}Username") == "admin@local.org"


@pytest.mark.parametrize(("soql", "fragment"), [
    ("SELECT Id FROM Contact", "INVALID_TYPE_FOR_OPERATION: The root entity of the requested query (Contact) does "
                               "not match the entity of the requested Bulk API Job (Account)"),
    ("SELECT Nope__c FROM Account", "InvalidBatch : Failed to process query: INVALID_FIELD: "),
    ("SELEKT Id FROM Account", "InvalidBatch : Failed to process query: MALFORMED_QUERY: "),
    ("SELECT COUNT() FROM Account", "InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: Aggregate"),
    ("SELECT Id FROM Account LIMIT 1 OFFSET 1",
     "InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: OFFSET"),
])
def test_failed_query_batches(bulk, soql, fragment):
    job, batch = _query(bulk, soql, "JSON")
    assert batch["state"] == "Failed" and batch["stateMessage"].startswith(fragment), batch["stateMessage"]
    assert bulk.result(job, batch).json() == {"exceptionCode": "InvalidBatch", "exceptionMessage": "Records not "
                                                                                                   "processed"}


def test_pk_chunking_splits_by_id_range_and_covers_the_query_exactly(bulk):
    tag = unique("QP")
    ids = _accounts(bulk, tag, 23)
    soql = f"SELECT Id, Name FROM Account WHERE Legacy_Id__c LIKE '{tag}-%'"
    job = bulk.create("query", "Account", headers={"Sforce-Enable-PKChunking": "TRUE; CHUNKSIZE = 10 ;"})
    original = bulk.add(job, soql)
    assert bulk.wait(job, original)["state"] == "NotProcessed"
    chunks = [b for b in bulk.batches(job) if b["state"] != "NotProcessed"]
    assert len(chunks) >= 2
    rows: list[dict] = []
    for chunk in chunks:
        done = bulk.wait(job, chunk)
        assert done["state"] == "Completed"
        request = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{chunk['id']}/request").text
        assert request.startswith(soql + " AND Id >= '") and "' AND Id < '" in request
        rows += bulk.query_rows(job, done)
    assert sorted(r["Id"] for r in rows) == sorted(ids)  # every row once, none twice
    assert len(rows) == len({r["Id"] for r in rows})
    info = bulk.job(job)
    assert int(info["numberBatchesTotal"]) == len(chunks) + 1


def test_pk_chunking_without_where_from_start_row_and_disabled_by_order_by(bulk):
    tag = unique("QS")
    ids = _accounts(bulk, tag, 12)
    everything = bulk.query_rows(*_query(bulk, "SELECT Id FROM Account"))
    job = bulk.create("query", "Account", "JSON",
                      headers={"Sforce-Enable-PKChunking": f"chunkSize=5;startRow={ids[4]}"})
    assert bulk.wait(job, bulk.add(job, "SELECT Id FROM Account"))["state"] == "NotProcessed"
    chunks = [b for b in bulk.batches(job) if b["state"] != "NotProcessed"]
    requests = [bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{c['id']}/request").text for c in chunks]
    assert requests[0] == f"SELECT Id FROM Account WHERE Id >= '{ids[4][:15]}' AND Id < '{requests[0][-16:-1]}'"
    rows = [r["Id"] for c in chunks for r in bulk.query_rows(job, bulk.wait(job, c))]
    assert sorted(rows) == sorted(r["Id"] for r in everything if r["Id"] >= ids[4])

    ordered = bulk.create("query", "Account", headers={"Sforce-Enable-PKChunking": "TRUE"})
    batch = bulk.wait(ordered, bulk.add(ordered, f"SELECT Id FROM Account WHERE Legacy_Id__c LIKE '{tag}-%' "
                                                 f"ORDER BY Id DESC"))
    assert batch["state"] == "Completed" and len(bulk.batches(ordered)) == 1  # ran unchunked
    assert [r["Id"] for r in bulk.query_rows(ordered, batch)] == ids[::-1]


def test_query_batch_request_content_type_follows_the_job(bulk):
    job, batch = _query(bulk, "SELECT Id FROM Account LIMIT 1", "JSON")
    response = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/request")
    assert (response.headers["Content-Type"], response.text) == ("application/json", "SELECT Id FROM Account LIMIT 1")
    assert json.loads(bulk.http.get(f"{bulk.base}/job/{job['id']}/batch").text)["batchInfo"][0]["id"] == batch["id"]
    xml_job, xml_batch = _query(bulk, "SELECT Id FROM Account LIMIT 1", "XML")
    response = bulk.http.get(f"{bulk.base}/job/{xml_job['id']}/batch/{xml_batch['id']}")
    assert response.headers["Content-Type"] == "application/xml"
    assert xml_fields(response.content)["state"] == "Completed"
