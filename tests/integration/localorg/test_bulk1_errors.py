"""Every Bulk API 1.0 error the local org sends, over plain HTTP: code, message, status, format."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings
from tests.integration.conftest import org_session

from .bulk1_support import Bulk1, async_base, error_of, job_xml, session_for
from .support import base


@pytest.fixture
def bulk(local_org) -> Bulk1:
    return Bulk1(local_org, session_for(local_org))


def _expect(response, status: int, code: str, fragment: str = "", content_type: str = "application/xml") -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == content_type
    found_code, message = error_of(response)
    assert found_code == code, response.text
    assert fragment in message, message


def test_session_errors_in_the_request_format(local_org, bulk):
    job = bulk.create("insert", "Account")
    anonymous = session_for(local_org, token="00Dnope!bad")
    _expect(anonymous.get(f"{bulk.base}/job/{job['id']}"), 400, "InvalidSessionId", "Invalid session id")
    del anonymous.headers["X-SFDC-Session"]
    _expect(anonymous.post(f"{bulk.base}/job", json={"operation": "insert"},
                           headers={"Content-Type": "application/json"}),
            400, "InvalidSessionId", content_type="application/json")
    bearer = org_session(local_org)  # Authorization: Bearer works for Bulk 1.0 as well
    assert bearer.get(f"{bulk.base}/job/{job['id']}").status_code == 200


@pytest.mark.parametrize(("fields", "headers", "code", "fragment"), [
    ({"operation": "INSERT", "object": "Account"}, {}, "InvalidJob", "Invalid operation: INSERT"),
    ({"object": "Account"}, {}, "InvalidJob", "needs an operation"),
    ({"operation": "insert"}, {}, "InvalidJob", "needs an object"),
    ({"operation": "insert", "object": "Nope__c"}, {}, "InvalidJob", "Unable to find object: Nope__c"),
    ({"operation": "query", "object": "Nope__c"}, {}, "InvalidJob", "Unable to find object: Nope__c"),
    ({"operation": "upsert", "object": "Account"}, {}, "InvalidJob", "External ID was blank"),
    ({"operation": "upsert", "object": "Account", "externalIdFieldName": "Industry"}, {}, "InvalidJob",
     "does not match an External ID"),
    ({"operation": "insert", "object": "Account", "externalIdFieldName": "Legacy_Id__c"}, {}, "InvalidJob",
     "only be specified for an upsert"),
    ({"operation": "insert", "object": "Account", "concurrencyMode": "Sideways"}, {}, "InvalidJob", "concurrencyMode"),
    ({"operation": "insert", "object": "Account", "contentType": "PDF"}, {}, "InvalidJob", "Invalid contentType"),
    ({"operation": "query", "object": "Account", "contentType": "ZIP_CSV"}, {}, "InvalidJob", "not supported"),
    ({"operation": "insert", "object": "Account", "state": "Closed"}, {}, "InvalidJob", "Open"),
    ({"operation": "insert", "object": "Account"}, {"Sforce-Enable-PKChunking": "true"}, "InvalidJob",
     "only be enabled for query"),
    ({"operation": "query", "object": "Account"}, {"Sforce-Enable-PKChunking": "chunkSize=250001"}, "InvalidJob",
     "chunkSize"),
    ({"operation": "query", "object": "Account"}, {"Sforce-Enable-PKChunking": "startRow=nope"}, "InvalidJob",
     "startRow"),
    ({"operation": "query", "object": "Account"}, {"Sforce-Enable-PKChunking": "colour=blue"}, "InvalidJob",
     "Unknown"),
    ({"operation": "insert", "object": "Account"}, {"Sforce-Line-Ending": "CR"}, "InvalidJob", "Sforce-Line-Ending"),
])
def test_job_creation_refusals(bulk, fields, headers, code, fragment):
    xml = bulk.http.post(f"{bulk.base}/job", data=job_xml(**fields), headers={"Content-Type": "application/xml",
                                                                             **headers})
    _expect(xml, 400, code, fragment)
    as_json = bulk.http.post(f"{bulk.base}/job", json=fields, headers={"Content-Type": "application/json", **headers})
    _expect(as_json, 400, code, fragment, "application/json")


@pytest.mark.parametrize(("body", "code", "fragment"), [
    (b"<jobInfo><operation>insert</operation>", "InvalidXml", "Unable to parse"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><jobInfo><operation>&a;</operation></jobInfo>',
     "InvalidXml", "DOCTYPE"),
    (b'<!DOCTYPE jobInfo SYSTEM "file:///etc/passwd"><jobInfo/>', "InvalidXml", "DOCTYPE"),
    (b"<batchInfo><operation>insert</operation></batchInfo>", "InvalidXml", "Expected a jobInfo"),
    (b"<jobInfo><operation>insert</operation><colour>blue</colour></jobInfo>", "InvalidXml", "Unexpected element"),
    (b"<jobInfo><operation>insert</operation><operation>delete</operation></jobInfo>", "InvalidXml", "twice"),
    (b"<jobInfo><object><sObject/></object></jobInfo>", "InvalidXml", "text only"),
])
def test_malformed_xml_job_requests(bulk, body, code, fragment):
    _expect(bulk.http.post(f"{bulk.base}/job", data=body, headers={"Content-Type": "application/xml"}),
            400, code, fragment)


@pytest.mark.parametrize(("body", "fragment"), [
    (b'{"operation": "insert",', "Failed to parse"), (b"[1, 2]", "must be an object"), (b"", "must be an object"),
    (b'{"operation": "insert", "object": "Account", "colour": "blue"}', "Unrecognized field"),
    (b'{"operation": ["insert"], "object": "Account"}', "string or a number"),
    (b'{"operation": 5, "object": "Account"}', "must be a string"), (b'{"operation": NaN}', "Failed to parse"),
])
def test_malformed_json_job_requests(bulk, body, fragment):
    _expect(bulk.http.post(f"{bulk.base}/job", data=body, headers={"Content-Type": "application/json"}),
            400, "ClientInputError", fragment, "application/json")


def test_content_type_of_job_requests(bulk):
    _expect(bulk.http.post(f"{bulk.base}/job", data="operation,object\ninsert,Account\n",
                           headers={"Content-Type": "text/csv"}), 400, "UnsupportedContentType", "text/csv")
    sniffed = bulk.http.post(f"{bulk.base}/job", data=json.dumps({"operation": "insert", "object": "Account"}))
    assert sniffed.status_code == 201 and sniffed.headers["Content-Type"] == "application/json"  # no type: sniffed


def test_job_state_errors(bulk):
    job = bulk.create("insert", "Account", "JSON")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}", data=job_xml(state="Open")), 400, "InvalidJobState",
            "Closed or Aborted", "application/json")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}", data=job_xml(state="Closed", object="Contact"),
                           headers={"Content-Type": "application/xml"}), 400, "InvalidJob", "Only the state",
            "application/json")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}", data=b"<jobInfo>", headers={"Content-Type": "text/xml"}),
            400, "InvalidXml", "", "application/json")
    assert bulk.http.post(f"{bulk.base}/job/{job['id']}", json={"state": "Closed"}).status_code == 200
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data="[]",
                           headers={"Content-Type": "application/json"}),
            400, "InvalidJobState", "batches can only be added to an Open job", "application/json")
    _expect(bulk.set_state(job, "Closed"), 400, "InvalidJobState", "Closing already Closed Job not allowed",
            "application/json")
    assert bulk.set_state(job, "Aborted").status_code == 200
    _expect(bulk.set_state(job, "Aborted"), 400, "InvalidJobState", "Aborting already Aborted Job not allowed",
            "application/json")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data="[]",
                           headers={"Content-Type": "application/json"}), 400, "InvalidJobState", "Aborted",
            "application/json")


def test_batch_errors(bulk, local_org):
    job = bulk.create("insert", "Account")
    other = bulk.create("insert", "Account")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data="Name\nx\n",
                           headers={"Content-Type": "text/plain"}), 400, "UnsupportedContentType", "text/plain")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data="[]",
                           headers={"Content-Type": "application/json"}), 400, "InvalidBatch", "does not match")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=" \n",
                           headers={"Content-Type": "text/csv"}), 400, "InvalidBatch", "empty")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=b"\x1f\x8b-not-gzip",
                           headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"}),
            400, "ClientInputError", "gzip")
    batch = bulk.add(other, "Name\nx\n")
    for path in (f"batch/{batch['id']}", "batch/751000000000000AAA", "batch/x", f"batch/{batch['id']}/result",
                 f"batch/{batch['id']}/request"):
        _expect(bulk.http.get(f"{bulk.base}/job/{job['id']}/{path}"), 400, "InvalidBatch", "Invalid batch id")
    bulk.wait(other, batch)
    _expect(bulk.http.get(f"{bulk.base}/job/{other['id']}/batch/{batch['id']}/result/752000000000000AAA"),
            400, "InvalidBatch", "Invalid result id")
    for bad in ("750000000000000AAA", "nope", "001000000000000AAA"):
        _expect(bulk.http.get(f"{bulk.base}/job/{bad}"), 400, "InvalidJob", f"Invalid job id: {bad}")
    v2 = org_session(local_org).post(f"{base(local_org)}/jobs/ingest", json={"object": "Account",
                                                                             "operation": "insert"}).json()
    _expect(bulk.http.get(f"{bulk.base}/job/{v2['id']}"), 400, "InvalidJob")
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/spec", data="Salesforce Field,Csv Header\nName,N\n",
                           headers={"Content-Type": "text/csv"}), 400, "FeatureNotEnabled", "not supported")


def test_results_of_unfinished_batches(fresh_org):
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    fresh_org.set_faults({"slow_ms": 400})
    job = bulk.create("insert", "Account")
    first = bulk.add(job, "Name\nslow\n")
    second = bulk.add(job, "Name\nqueued\n")
    _expect(bulk.result(job, second), 400, "InvalidBatch", "not completed")
    assert bulk.batch(job, second["id"])["state"] in ("Queued", "InProgress")  # a poll answers after 250 ms at most
    fresh_org.set_faults(None)
    assert bulk.wait(job, first)["state"] == "Completed"


def test_urls_versions_and_methods(bulk, local_org):
    _expect(bulk.http.get(f"{bulk.base}/nothing/here"), 404, "InvalidUrl", "Unknown resource")
    _expect(bulk.http.delete(f"{bulk.base}/job/750000000000000AAA"), 405, "InvalidUrl", "not allowed")
    _expect(bulk.http.get(f"{async_base(local_org, '30.0')}/job/750000000000000AAA"), 410, "Gone", "retired")
    _expect(bulk.http.get(f"{async_base(local_org, '99.0')}/job/750000000000000AAA"), 400, "InvalidVersion")
    _expect(bulk.http.get(f"{async_base(local_org, 'v62.0')}/job/750000000000000AAA"), 404, "InvalidUrl")
    trailing = bulk.http.post(f"{bulk.base}/job/", data=job_xml(operation="insert", object="Account"))
    assert trailing.status_code == 201


def test_size_and_record_limits(tmp_path, legacy_schema_file):
    settings = OrgSettings(bulk1_max_batch_bytes=2_000, bulk1_max_batch_records=5, bulk1_max_zip_files=3,
                           bulk1_max_unzipped_bytes=1_000)
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file], settings=settings) as org:
        bulk = Bulk1(org, session_for(org))
        job = bulk.create("insert", "Account")
        big = "Name\n" + "".join(f"Row {n:04d} {'x' * 40}\n" for n in range(60))
        _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=big, headers={"Content-Type": "text/csv"}),
                400, "ClientInputError", "Failed to read request. Exceeded max size limit of 2000")
        _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data=gzip.compress(big.encode()),
                               headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"}),
                400, "ClientInputError", "Exceeded max size limit of 2000")  # the limit applies unzipped
        six = bulk.wait(job, bulk.add(job, "Name\n" + "".join(f"R{n}\n" for n in range(6))))
        assert six["state"] == "Failed" and "at most 5 records" in six["stateMessage"]
        assert bulk.wait(job, bulk.add(job, "Name\n" + "".join(f"R{n}\n" for n in range(5))))["state"] == "Completed"

        attachments = bulk.create("insert", "Attachment", "ZIP_CSV")
        for files, fragment in (({f"f{n}.txt": b"x" for n in range(4)}, "at most 3"),
                                ({"a.bin": b"\0" * 1_500}, "unzips to more than 1,000 bytes")):
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("request.txt", "Name,ParentId,Body\n")
                for name, data in files.items():
                    z.writestr(name, data)
            failed = bulk.wait(attachments, bulk.add(attachments, archive.getvalue()))
            assert failed["state"] == "Failed" and fragment in failed["stateMessage"], failed


def test_upload_503_fault_and_token_expiry(fresh_org):
    bulk = Bulk1(fresh_org, session_for(fresh_org))
    job = bulk.create("insert", "Account")
    fresh_org.set_faults({"upload_503": 1})
    _expect(bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data="Name\nx\n",
                           headers={"Content-Type": "text/csv"}), 503, "Unknown", "temporarily unavailable")
    assert bulk.http.post(f"{bulk.base}/job/{job['id']}/batch", data="Name\nx\n",
                          headers={"Content-Type": "text/csv"}).status_code == 201
    fresh_org.set_faults({"expire_token_after": 2})
    assert bulk.http.get(f"{bulk.base}/job/{job['id']}").status_code == 200
    assert bulk.http.get(f"{bulk.base}/job/{job['id']}").status_code == 200
    _expect(bulk.http.get(f"{bulk.base}/job/{job['id']}"), 400, "InvalidSessionId")
