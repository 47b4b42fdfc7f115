"""Bulk API 1.0 ingest over plain HTTP against the real local org: documents, formats, semantics, order."""

from __future__ import annotations

import gzip
import json
import time
from xml.etree import ElementTree

import pytest

from migrator.localorg.bulk1_xml import BATCH_FIELDS, JOB_FIELDS
from tests.integration.conftest import org_session, unique

from .bulk1_support import NS, XSI, Bulk1, async_base, job_xml, session_for, xml_fields, xml_order
from .support import base, live


@pytest.fixture
def bulk(local_org) -> Bulk1:
    return Bulk1(local_org, session_for(local_org))


def test_csv_insert_job_documents_results_and_counters(bulk, local_org):
    tag = unique("B1")
    created = bulk.http.post(f"{bulk.base}/job", data=job_xml(operation="insert", object="Account",
                                                              contentType="CSV"),
                             headers={"Content-Type": "application/xml; charset=UTF-8"})
    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/xml"
    assert created.text.startswith('<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="' + NS + '">')
    order = xml_order(created.content)
    assert order == [name for name in JOB_FIELDS if name in order]  # XSD sequence, nothing out of place
    job = xml_fields(created.content)
    assert (job["state"], job["operation"], job["object"], job["concurrencyMode"], job["apiVersion"]) == \
           ("Open", "insert", "Account", "Parallel", "62.0")
    assert job["id"].startswith("750") and job["createdDate"].endswith("Z")

    body = f"Name,Legacy_Id__c,Region__c\nAcme {tag},{tag}-1,North\n,{tag}-2,North\nBad {tag},{tag}-3,Nowhere\n"
    added = bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=body, headers={"Content-Type": "text/csv"})
    assert added.status_code == 201 and added.headers["Content-Type"] == "application/xml"
    batch = xml_fields(added.content)
    assert batch["state"] == "Queued" and batch["jobId"] == job["id"] and batch["id"].startswith("751")
    assert xml_order(added.content) == [n for n in BATCH_FIELDS if n in xml_order(added.content)]

    done = bulk.wait(job, batch)  # processed while the job is still Open
    assert (done["state"], done["numberRecordsProcessed"], done["numberRecordsFailed"]) == ("Completed", "3", "2")
    result = bulk.result(job, batch)
    lines = result.text.splitlines()
    assert result.headers["Content-Type"] == "text/csv"
    assert lines[0] == '"Id","Success","Created","Error"'
    assert lines[2] == '"","false","false","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"'
    assert lines[3] == ('"","false","false","INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Region: bad value for '
                        'restricted picklist field: Nowhere:Region__c --"')
    new_id = bulk.csv_results(job, batch)[0]["Id"]
    assert live(org_session(local_org), local_org, f"SELECT Name FROM Account WHERE Id = '{new_id}'")[0]["Name"] == \
           f"Acme {tag}"
    request = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/request")
    assert (request.headers["Content-Type"], request.text) == ("text/csv", body)

    info = bulk.job(job)
    assert (info["numberBatchesCompleted"], info["numberBatchesTotal"], info["numberRecordsProcessed"],
            info["numberRecordsFailed"]) == ("1", "1", "3", "2")
    closed = bulk.set_state(job, "Closed")
    assert closed.status_code == 200 and xml_fields(closed.content)["state"] == "Closed"
    [listed] = bulk.batches(job)
    assert listed["id"] == batch["id"] and listed["state"] == "Completed"


def test_json_job_with_integer_concurrency_structured_results_and_relationships(bulk):
    tag = unique("BJ")
    job = bulk.create("upsert", "Account", "JSON", externalIdFieldName="Legacy_Id__c")
    assert job["concurrencyMode"] == "Parallel" and job["fastPathEnabled"] is False and job["apiVersion"] == 62.0
    serial = bulk.http.post(f"{bulk.base}/job", json={"operation": "insert", "object": "Contact", "contentType": "JSON",
                                                      "concurrencyMode": 1},
                            headers={"Content-Type": "application/json"})
    assert serial.status_code == 201 and serial.headers["Content-Type"] == "application/json"
    contacts = serial.json()
    assert contacts["concurrencyMode"] == "Serial" and contacts["externalIdFieldName"] is None

    accounts = [{"Name": f"J {tag}", "Legacy_Id__c": f"{tag}-A", "Active__c": True, "Score__c": 12.5},
                {"Name": None, "Legacy_Id__c": f"{tag}-B"}]
    batch = bulk.wait(job, bulk.add(job, json.dumps(accounts)))
    assert batch["state"] == "Completed" and batch["numberRecordsFailed"] == 1
    results = bulk.result(job, batch)
    assert results.headers["Content-Type"] == "application/json"
    first, second = results.json()
    assert list(first) == ["success", "created", "id", "errors"]
    assert (first["success"], first["created"], first["errors"]) == (True, True, [])
    assert second == {"success": False, "created": False, "id": None,
                      "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                  "message": "Required fields are missing: [Name]", "fields": ["Name"]}]}

    rows = [{"LastName": f"Kid {tag}", "Account": {"Legacy_Id__c": f"{tag}-A"}},
            {"LastName": f"Orphan {tag}", "Account": {"Legacy_Id__c": f"{tag}-NONE"}}]
    batch = bulk.wait(contacts, bulk.add(contacts, json.dumps(rows)))
    kid, orphan = bulk.result(contacts, batch).json()
    assert kid["success"] is True
    assert orphan["errors"] == [{"statusCode": "INVALID_FIELD", "message": f"Foreign key external ID: {tag}-NONE not "
                                 f"found for field Legacy_Id__c in entity Account", "fields": []}]
    request = bulk.http.get(f"{bulk.base}/job/{contacts['id']}/batch/{batch['id']}/request")
    assert request.headers["Content-Type"] == "application/json" and request.json() == rows

    task = bulk.create("insert", "Task", "JSON")
    polymorphic = [{"Subject": f"Call {tag}", "What": {"attributes": {"type": "Account"}, "Legacy_Id__c": f"{tag}-A"}}]
    batch = bulk.wait(task, bulk.add(task, json.dumps(polymorphic)))
    [outcome] = bulk.result(task, batch).json()
    assert outcome["success"] is True, outcome


def test_xml_job_with_nested_parent_nil_and_structured_xml_results(bulk):
    tag = unique("BX")
    accounts = bulk.create("insert", "Account", "XML")
    body = (f'<sObjects xmlns="{NS}" xmlns:xsi="{XSI}"><sObject><Name>X {tag}</Name><Legacy_Id__c>{tag}-P'
            f'</Legacy_Id__c><Region__c xsi:nil="true"/></sObject><sObject><Legacy_Id__c>{tag}-Q</Legacy_Id__c>'
            f"</sObject></sObjects>")
    batch = bulk.wait(accounts, bulk.add(accounts, body))
    assert batch["state"] == "Completed" and batch["numberRecordsFailed"] == "1"
    results = bulk.result(accounts, batch)
    assert results.headers["Content-Type"] == "application/xml"
    ok, bad = ElementTree.fromstring(results.content)
    assert [c.tag.split("}")[1] for c in ok] == ["id", "success", "created"]
    assert [c.tag.split("}")[1] for c in bad] == ["errors", "id", "success", "created"]
    assert bad.find(f"{{{NS}}}id").get(f"{{{XSI}}}nil") == "true"
    errors = bad.find(f"{{{NS}}}errors")
    assert [c.tag.split("}")[1] for c in errors] == ["fields", "message", "statusCode"]
    assert errors.findtext(f"{{{NS}}}statusCode") == "REQUIRED_FIELD_MISSING"

    contacts = bulk.create("insert", "Contact", "XML")
    body = (f'<sObjects xmlns="{NS}"><sObject><LastName>Kid {tag}</LastName><Account><sObject><type>Account</type>'
            f"<Legacy_Id__c>{tag}-P</Legacy_Id__c></sObject></Account></sObject></sObjects>")
    batch = bulk.wait(contacts, bulk.add(contacts, body))
    [result] = ElementTree.fromstring(bulk.result(contacts, batch).content)
    assert result.findtext(f"{{{NS}}}success") == "true"


def test_unknown_field_fails_the_batch_and_its_result_is_records_not_processed(bulk):
    job = bulk.create("insert", "Account", "JSON")
    batch = bulk.wait(job, bulk.add(job, json.dumps([{"Name": "x", "Bogus__c": 1}])))
    assert (batch["state"], batch["stateMessage"]) == ("Failed", "InvalidBatch : Field name not found : Bogus__c")
    result = bulk.result(job, batch)
    assert result.status_code == 400
    assert result.json() == {"exceptionCode": "InvalidBatch", "exceptionMessage": "Records not processed"}

    single_object = bulk.wait(job, bulk.add(job, json.dumps({"Name": "not in an array"})))
    assert single_object["state"] == "Failed"
    assert single_object["stateMessage"].startswith("InvalidBatch : Failed to deserialize the JSON batch")

    csv_job = bulk.create("insert", "Account")
    broken = bulk.wait(csv_job, bulk.add(csv_job, 'Name\na,b\n'))
    assert broken["state"] == "Failed" and broken["stateMessage"].startswith("ClientInputError : ")
    stray_return = bulk.wait(csv_job, bulk.add(csv_job, b"Na\rme\nx\n"))  # once an InternalServerError
    assert (stray_return["state"], stray_return["stateMessage"]) == (
        "Failed", "ClientInputError : the header row cannot be read: a carriage return inside an unquoted name")
    xml_job = bulk.create("insert", "Account", "XML")
    malformed = bulk.wait(xml_job, bulk.add(xml_job, "<sObjects><sObject><Name>x</sObject>"))
    assert malformed["state"] == "Failed" and malformed["stateMessage"].startswith("InvalidBatch : Failed to parse")


def test_serial_job_runs_batches_in_submission_order(fresh_org):
    """Batch n names the parent created by batch n-1, so each must run after the one before has finished;
    the batches are all queued at once behind a slow first batch. Ids are allocated in processing order."""
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    fresh_org.set_faults({"slow_ms": 100})
    tag = unique("BS")
    job = bulk.create("upsert", "Project__c", "CSV", externalIdFieldName="Code__c", concurrencyMode="Serial")
    assert job["concurrencyMode"] == "Serial"
    bodies = [f"Name,Code__c\nRoot {tag},{tag}0\n"] + [
        f"Name,Code__c,Parent_Project__r.Code__c\nLevel {n} {tag},{tag}{n},{tag}{n - 1}\n" for n in range(1, 5)]
    posted = [bulk.add(job, body) for body in bodies]
    states = [b["state"] for b in bulk.batches(job)]
    assert states.count("InProgress") <= 1 and "Queued" in states
    finished = [bulk.wait(job, b) for b in posted]
    assert {b["state"] for b in finished} == {"Completed"}
    results = [bulk.csv_results(job, b)[0] for b in bulk.batches(job)]
    assert all(r["Success"] == "true" for r in results), results
    ids = [r["Id"] for r in results]
    assert ids == sorted(ids)


def test_gzip_and_chunked_request_bodies_and_gzip_responses(bulk):
    tag = unique("BG")
    create = gzip.compress(job_xml(operation="insert", object="Account", contentType="CSV").encode())
    response = bulk.http.post(f"{bulk.base}/job", data=create, headers={"Content-Type": "application/xml",
                                                                        "Content-Encoding": "gzip"})
    assert response.status_code == 201, response.text
    job = xml_fields(response.content)
    rows = "Name,Legacy_Id__c\n" + "".join(f"Gz {tag} {n},{tag}-{n}\n" for n in range(300))
    added = bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=gzip.compress(rows.encode()),
                           headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"})
    assert added.status_code == 201, added.text

    def chunks():
        yield b"Name,Legacy_Id__c\n"
        for n in range(300, 310):
            yield f"Chunked {tag} {n},{tag}-{n}\n".encode()

    chunked = bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=chunks(), headers={"Content-Type": "text/csv"})
    assert chunked.status_code == 201, chunked.text
    first, second = (bulk.wait(job, xml_fields(r.content)) for r in (added, chunked))
    assert (first["numberRecordsProcessed"], second["numberRecordsProcessed"]) == ("300", "10")
    zipped = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{first['id']}/result",
                           headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Content-Type"] == "text/csv"
    assert len(zipped.text.splitlines()) == 301


def test_ten_thousand_row_csv_batch_is_fast(bulk):
    tag = unique("BF")
    job = bulk.create("insert", "Account")
    body = "Name,Legacy_Id__c,Industry\n" + "".join(f"Fast {n},{tag}-{n},Technology\n" for n in range(10_000))
    started = time.monotonic()
    batch = bulk.wait(job, bulk.add(job, body))
    elapsed = time.monotonic() - started
    assert (batch["state"], batch["numberRecordsProcessed"], batch["numberRecordsFailed"]) == \
           ("Completed", "10000", "0")
    assert int(batch["totalProcessingTime"]) < 1000, batch
    assert elapsed < 3.0
    assert len(bulk.csv_results(job, batch)) == 10_000


def test_bulk2_lists_include_classic_jobs_but_bulk2_calls_do_not_serve_them(fresh_org):
    """On its own org: other suites assert that the shared org's Bulk 2.0 query list holds V2Query jobs."""
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    job = bulk.create("insert", "Account")
    query = bulk.create("query", "Account", headers={"Sforce-Enable-PKChunking": "chunkSize=5"})
    rest = org_session(fresh_org)
    listed = {j["id"]: j for page in _pages(rest, f"{base(fresh_org)}/jobs/ingest?jobType=Classic") for j in page}
    assert listed[job["id"]]["jobType"] == "Classic" and listed[job["id"]]["contentType"] == "CSV"
    queries = [j["id"] for page in _pages(rest, f"{base(fresh_org)}/jobs/query") for j in page]
    assert query["id"] in queries
    chunked = [j["id"] for page in _pages(rest, f"{base(fresh_org)}/jobs/query?isPkChunkingEnabled=true")
               for j in page]
    assert chunked == [query["id"]]
    assert rest.get(f"{base(fresh_org)}/jobs/ingest/{job['id']}").status_code == 404
    before = rest.get(f"{base(fresh_org)}/limits").json()["DailyBulkApiBatches"]["Remaining"]
    bulk.add(job, "Name\nCounted\n")
    after = rest.get(f"{base(fresh_org)}/limits").json()["DailyBulkApiBatches"]["Remaining"]
    assert after == before - 1


def _pages(http, url):
    while url:
        body = http.get(url).json()
        yield body["records"]
        url = body["nextRecordsUrl"] and url.split("/services/")[0] + body["nextRecordsUrl"]


def test_abort_makes_queued_batches_not_processed(fresh_org):
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    fresh_org.set_faults({"slow_ms": 300})
    job = bulk.create("insert", "Account")
    batches = [bulk.add(job, f"Name\nSlow {n}\n") for n in range(3)]
    aborted = bulk.set_state(job, "Aborted")
    assert aborted.status_code == 200 and xml_fields(aborted.content)["state"] == "Aborted"
    states = [bulk.wait(job, b)["state"] for b in batches]
    assert states[-1] == "NotProcessed" and set(states) <= {"Completed", "NotProcessed"}
    assert states.count("NotProcessed") >= 2
    fresh_org.set_faults(None)
    for state in ("Aborted", "Closed"):
        again = bulk.set_state(job, state)
        assert again.status_code == 400 and "InvalidJobState" in again.text


def test_bulk1_restarts_pick_up_queued_batches(tmp_path, legacy_schema_file):
    """A batch queued when the server stopped runs when it starts again (against the same database)."""
    from migrator.localorg.bulk1_jobs import create_job
    from migrator.localorg.org import LocalOrg
    from migrator.localorg.server import LocalOrgServer

    org = LocalOrg(tmp_path / "org.db", [legacy_schema_file])  # workers never started: nothing runs
    job = create_job(org.jobs, org.schema, {"operation": "insert", "object": "Account", "contentType": "CSV"},
                     "62.0", org.identity.user_id, {})
    batch = org.bulk1.add_batch(job, b"Name\nQueued before the restart\n", "CSV")
    assert org.bulk1.batches.get(batch.id).state == "Queued"
    org.close()
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file]) as server:
        bulk = Bulk1(server, session_for(server))
        done = bulk.wait({"id": job.id, "contentType": "CSV"}, {"id": batch.id})
        assert done["state"] == "Completed" and done["numberRecordsProcessed"] == "1"


def test_job_ids_may_be_15_characters(bulk):
    job = bulk.create("insert", "Account")
    response = bulk.http.get(f"{async_base(bulk.org)}/job/{job['id'][:15]}")
    assert response.status_code == 200 and xml_fields(response.content)["id"] == job["id"]


def test_lock_rate_and_fail_job_after_apply_to_bulk1_batches(fresh_org):
    """Injected lock failures hit rows of 1.0 batches and a resent row draws again (so retries can succeed);
    fail_job_after fails the batches that start once the job has processed that many records."""
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    fresh_org.set_faults({"lock_rate": 0.5, "seed": 3})
    job = bulk.create("insert", "Account")
    rows = [f"Locked {n}" for n in range(40)]
    results = bulk.csv_results(job, bulk.wait(job, bulk.add(job, "Name\n" + "\n".join(rows) + "\n")))
    locked = [name for name, r in zip(rows, results, strict=True) if r["Success"] == "false"]
    assert 5 < len(locked) < 35
    assert {r["Error"] for r in results if r["Success"] == "false"} == {
        "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--"}
    retry = bulk.csv_results(job, bulk.wait(job, bulk.add(job, "Name\n" + "\n".join(locked) + "\n")))
    assert 0 < sum(r["Success"] == "true" for r in retry) < len(locked)

    fresh_org.set_faults({"fail_job_after": 3})
    job = bulk.create("insert", "Account", "JSON")
    first = bulk.wait(job, bulk.add(job, json.dumps([{"Name": f"F{n}"} for n in range(3)])))
    second = bulk.wait(job, bulk.add(job, json.dumps([{"Name": "F3"}])))
    assert first["state"] == "Completed"
    assert second["state"] == "Failed" and second["stateMessage"].startswith("InternalServerError : ")
    assert bulk.result(job, second).json()["exceptionMessage"] == "Records not processed"
