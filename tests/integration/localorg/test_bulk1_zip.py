"""Binary attachments through Bulk API 1.0: ZIP batches with request.txt and #file references, read back
through the REST blob endpoint."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest

from tests.integration.conftest import org_session, unique

from .bulk1_support import NS, Bulk1, session_for
from .support import base, live

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01binary\xff" * 100


def _zip(request: str | bytes, files: dict[str, bytes]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("request.txt", request)
        for name, data in files.items():
            z.writestr(name, data)
    return archive.getvalue()


@pytest.fixture
def bulk(local_org) -> Bulk1:
    return Bulk1(local_org, session_for(local_org))


@pytest.fixture
def parent(bulk) -> str:
    tag = unique("ZP")
    job, batch = bulk.load("insert", "Account", f"Name,Legacy_Id__c\nParent {tag},{tag}\n")
    return bulk.csv_results(job, batch)[0]["Id"]


def test_zip_csv_attachments_are_stored_as_blobs_and_served_by_rest(bulk, local_org, parent):
    request = (f"Name,ParentId,Body,ContentType\nreport.pdf,{parent},#docs/report.pdf,application/pdf\n"
               f"logo.png,{parent},#logo.png,\nmissing.txt,{parent},#docs/nope.txt,text/plain\n"
               f"no-hash.txt,{parent},docs/report.pdf,text/plain\n")
    job = bulk.create("insert", "Attachment", "ZIP_CSV")
    batch = bulk.wait(job, bulk.add(job, _zip(request, {"docs/report.pdf": PDF, "logo.png": PNG})))
    assert (batch["state"], batch["numberRecordsProcessed"], batch["numberRecordsFailed"]) == ("Completed", "4", "2")
    pdf, png, missing, no_hash = bulk.csv_results(job, batch)
    assert pdf["Success"] == png["Success"] == "true" and pdf["Id"].startswith("00P")
    assert missing["Error"] == "INVALID_FIELD:#docs/nope.txt names no file of the zip:Body --"
    assert no_hash["Error"].startswith("INVALID_FIELD:docs/report.pdf is not a reference to a file of the zip")

    rest = org_session(local_org)
    served = rest.get(f"{base(local_org)}/sobjects/Attachment/{pdf['Id']}/Body")
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["Content-Type"] == "application/pdf"
    guessed = rest.get(f"{base(local_org)}/sobjects/Attachment/{png['Id']}/Body")
    assert guessed.content == PNG and guessed.headers["Content-Type"] == "image/png"  # from the file name
    [record] = live(rest, local_org, f"SELECT Name, BodyLength, ParentId FROM Attachment WHERE Id = '{pdf['Id']}'")
    assert (record["Name"], record["BodyLength"], record["ParentId"]) == ("report.pdf", len(PDF), parent)
    assert rest.get(f"{base(local_org)}/sobjects/Attachment/{pdf['Id']}/Name").status_code == 404
    assert rest.get(f"{base(local_org)}/sobjects/Attachment/00P000000000000AAA/Body").status_code == 404
    request_back = bulk.http.get(f"{bulk.base}/job/{job['id']}/batch/{batch['id']}/request")
    assert request_back.headers["Content-Type"] == "zip/csv"
    assert zipfile.ZipFile(io.BytesIO(request_back.content)).read("logo.png") == PNG


def test_zip_json_content_versions_get_documents_and_zip_xml_documents(bulk, local_org, parent):
    tag = unique("ZC")
    manifest = json.dumps([{"Title": f"Spec {tag}", "PathOnClient": "spec.pdf", "VersionData": "#spec.pdf",
                            "FirstPublishLocationId": parent}])
    job = bulk.create("insert", "ContentVersion", "ZIP_JSON")
    batch = bulk.wait(job, bulk.add(job, _zip(manifest, {"spec.pdf": PDF})))
    [result] = bulk.result(job, batch).json()
    assert result["success"] is True, result
    rest = org_session(local_org)
    [version] = live(rest, local_org, f"SELECT ContentDocumentId, ContentSize, FileType, ContentDocument.Title, "
                                      f"ContentDocument.LatestPublishedVersionId FROM ContentVersion "
                                      f"WHERE Id = '{result['id']}'")
    assert version["ContentDocumentId"].startswith("069") and version["ContentSize"] == len(PDF)
    assert version["FileType"] == "PDF"
    assert version["ContentDocument"]["Title"] == f"Spec {tag}"
    assert version["ContentDocument"]["LatestPublishedVersionId"] == result["id"]
    data = rest.get(f"{base(local_org)}/sobjects/ContentVersion/{result['id']}/VersionData")
    assert data.content == PDF and data.headers["Content-Type"] == "application/pdf"

    folder_job, folder_batch = bulk.load("insert", "Folder", f"Name,DeveloperName,Type\nDocs,Docs_{tag},Document\n")
    folder = bulk.csv_results(folder_job, folder_batch)[0]["Id"]
    manifest_xml = (f'<sObjects xmlns="{NS}"><sObject><Name>Logo {tag}</Name><FolderId>{folder}</FolderId>'
                    f"<Body>#img/logo.png</Body><ContentType>image/png</ContentType></sObject></sObjects>")
    job = bulk.create("insert", "Document", "ZIP_XML")
    batch = bulk.wait(job, bulk.add(job, _zip(manifest_xml, {"img/logo.png": PNG})))
    assert batch["state"] == "Completed" and batch["numberRecordsFailed"] == "0", batch
    [document] = live(rest, local_org, f"SELECT Id, BodyLength FROM Document WHERE Name = 'Logo {tag}'")
    assert document["BodyLength"] == len(PNG)
    assert rest.get(f"{base(local_org)}/sobjects/Document/{document['Id']}/Body").content == PNG


def test_base64_body_in_a_plain_csv_batch(bulk, local_org, parent):
    encoded = base64.b64encode(PDF).decode()
    job = bulk.create("insert", "Attachment")
    batch = bulk.wait(job, bulk.add(job, f"Name,ParentId,Body\ninline.pdf,{parent},{encoded}\n"
                                         f"bad.pdf,{parent},not*base64\nempty.pdf,{parent},\n"))
    inline, bad, empty = bulk.csv_results(job, batch)
    assert inline["Success"] == "true"
    assert bad["Error"] == "INVALID_TYPE_ON_FIELD_IN_RECORD:value not of required type: base64:Body --"
    assert empty["Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [Body]:Body --"
    served = org_session(local_org).get(f"{base(local_org)}/sobjects/Attachment/{inline['Id']}/Body")
    assert served.content == PDF


@pytest.mark.parametrize(("payload", "fragment"), [
    (b"PK\x03\x04 not really a zip", "InvalidBatch : Failed to read the zip file"),
    (None, "InvalidBatch : The zip file has no request.txt at its root"),
])
def test_broken_zip_batches_fail(bulk, payload, fragment):
    if payload is None:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("nested/request.txt", "Name\n")
        payload = archive.getvalue()
    job = bulk.create("insert", "Attachment", "ZIP_CSV")
    batch = bulk.wait(job, bulk.add(job, payload))
    assert batch["state"] == "Failed" and batch["stateMessage"].startswith(fragment), batch


def test_bulk_query_of_a_binary_field_fails_with_a_pointer_to_rest(fresh_org):
    bulk = Bulk1(fresh_org, session_for(fresh_org))  # its own org: a query job would join the shared 2.0 list
    job = bulk.create("query", "Attachment")
    batch = bulk.wait(job, bulk.add(job, "SELECT Id, a.Body FROM Attachment a"))
    assert batch["state"] == "Failed"
    assert batch["stateMessage"] == ("InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: Body is a "
                                     "binary field, which Bulk API query does not return; read it at "
                                     "/services/data/vXX.X/sobjects/Attachment/<Id>/Body")
    fine = bulk.wait(job, bulk.add(job, "SELECT Id, Name, BodyLength FROM Attachment"))
    assert fine["state"] == "Completed"
