"""Bulk API 1.0 documents: request bodies in XSD order, and answers in the shapes Salesforce sends."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from migrator.client.bulk1_xml import (
    NAMESPACE,
    BatchInfo,
    Bulk1Job,
    create_job_document,
    error_text,
    parse_batch,
    parse_batch_list,
    parse_job,
    parse_result_list,
    parse_xml,
    result_rows_from_json,
    result_rows_from_xml,
    state_document,
)
from migrator.errors import InvalidRequestError

JOB_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<jobInfo
   xmlns="http://www.force.com/2009/06/asyncapi/dataload">
 <id>750x0000000005LAAQ</id>
 <operation>upsert</operation>
 <object>Contact</object>
 <createdById>005x0000000wPWdAAM</createdById>
 <createdDate>2009-09-01T16:42:46.000Z</createdDate>
 <systemModstamp>2009-09-01T16:42:46.000Z</systemModstamp>
 <state>Closed</state>
 <externalIdFieldName>Legacy_Id__c</externalIdFieldName>
 <concurrencyMode>Serial</concurrencyMode>
 <contentType>CSV</contentType>
 <numberBatchesQueued>1</numberBatchesQueued>
 <numberBatchesInProgress>2</numberBatchesInProgress>
 <numberBatchesCompleted>3</numberBatchesCompleted>
 <numberBatchesFailed>1</numberBatchesFailed>
 <numberBatchesTotal>7</numberBatchesTotal>
 <numberRecordsProcessed>30000</numberRecordsProcessed>
 <numberRetries>0</numberRetries>
 <apiVersion>62.0</apiVersion>
 <numberRecordsFailed>12</numberRecordsFailed>
 <totalProcessingTime>5120</totalProcessingTime>
 <apiActiveProcessingTime>4900</apiActiveProcessingTime>
 <apexProcessingTime>0</apexProcessingTime>
</jobInfo>"""

BATCH_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<batchInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">
 <id>751x00000000079AAA</id>
 <jobId>750x0000000005LAAQ</jobId>
 <state>Failed</state>
 <stateMessage>InvalidBatch : Field name not found : Colour__c</stateMessage>
 <createdDate>2009-09-01T17:44:45.000Z</createdDate>
 <systemModstamp>2009-09-01T17:44:45.000Z</systemModstamp>
 <numberRecordsProcessed>0</numberRecordsProcessed>
 <numberRecordsFailed>0</numberRecordsFailed>
 <totalProcessingTime>0</totalProcessingTime>
 <apiActiveProcessingTime>0</apiActiveProcessingTime>
 <apexProcessingTime>0</apexProcessingTime>
</batchInfo>"""


def _children(document: bytes) -> list[str]:
    root = ElementTree.fromstring(document)
    assert root.tag == f"{{{NAMESPACE}}}jobInfo"
    return [child.tag.split("}")[1] for child in root]


def test_create_job_xml_is_the_documented_minimal_request_in_xsd_order():
    body = create_job_document("Contact", "upsert", concurrency_mode="Serial", external_id_field="Ext__c")
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/'
                    b'asyncapi/dataload"><operation>upsert</operation><object>Contact</object>'
                    b"<externalIdFieldName>Ext__c</externalIdFieldName><concurrencyMode>Serial</concurrencyMode>"
                    b"<contentType>CSV</contentType></jobInfo>")


def test_create_job_puts_assignment_rule_after_content_type_and_drops_unset_fields():
    body = create_job_document("Lead", "insert", assignment_rule_id="01Qx0000000AbCd", content_type="ZIP_CSV")
    assert _children(body) == ["operation", "object", "contentType", "assignmentRuleId"]
    assert ElementTree.fromstring(body).find(f"{{{NAMESPACE}}}contentType").text == "ZIP_CSV"


def test_create_job_json_for_json_jobs():
    body = create_job_document("Account", "insert", content_type="JSON", concurrency_mode="Parallel")
    assert list(json.loads(body).items()) == [("operation", "insert"), ("object", "Account"),
                                              ("concurrencyMode", "Parallel"), ("contentType", "JSON")]


def test_create_job_escapes_values():
    body = create_job_document("A&B<c>", "insert")
    assert ElementTree.fromstring(body).find(f"{{{NAMESPACE}}}object").text == "A&B<c>"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"content_type": "PARQUET"}, "contentType must be one of"),
    ({"concurrency_mode": "serial"}, "concurrencyMode must be Parallel or Serial"),
])
def test_create_job_rejects_bad_options(kwargs, message):
    with pytest.raises(InvalidRequestError, match=message):
        create_job_document("Account", "insert", **kwargs)


def test_state_documents_carry_only_the_state():
    assert _children(state_document("Closed")) == ["state"]
    assert json.loads(state_document("Aborted", as_json=True)) == {"state": "Aborted"}


def test_parse_job_xml():
    job = parse_job(JOB_XML, "application/xml")
    assert (job.id, job.operation, job.object, job.state) == ("750x0000000005LAAQ", "upsert", "Contact", "Closed")
    assert (job.external_id_field_name, job.concurrency_mode, job.content_type) == ("Legacy_Id__c", "Serial", "CSV")
    counts = (job.number_batches_queued, job.number_batches_in_progress, job.number_batches_completed,
              job.number_batches_failed, job.number_batches_total)
    assert counts == (1, 2, 3, 1, 7)
    assert (job.number_records_processed, job.number_records_failed, job.total_processing_time) == (30000, 12, 5120)
    assert job.api_version == "62.0" and job.created_by_id == "005x0000000wPWdAAM"
    assert job.raw["createdDate"] == "2009-09-01T16:42:46.000Z" and not job.is_json


def test_parse_job_json_with_simple_salesforce_integer_concurrency():
    payload = {"id": "750R0000000zhfdIAA", "operation": "insert", "object": "Account", "createdById": "005",
               "createdDate": "2024-03-20T21:42:13.000+0000", "state": "Open", "concurrencyMode": 1,
               "contentType": "JSON", "numberBatchesTotal": 0, "numberRecordsProcessed": 0, "apiVersion": 59.0}
    job = parse_job(json.dumps(payload).encode(), "application/json")
    assert (job.concurrency_mode, job.api_version, job.is_json) == ("Serial", "59.0", True)
    assert parse_job(json.dumps({**payload, "concurrencyMode": 0}).encode(), "application/json"
                     ).concurrency_mode == "Parallel"


def test_parse_batch_xml_failed_with_state_message():
    batch = parse_batch(BATCH_XML, "application/xml")
    assert batch == BatchInfo("751x00000000079AAA", "750x0000000005LAAQ", "Failed",
                              "InvalidBatch : Field name not found : Colour__c", "2009-09-01T17:44:45.000Z",
                              "2009-09-01T17:44:45.000Z")
    assert batch.is_terminal


def test_parse_batch_list_xml_json_and_single():
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><batchInfoList xmlns="' + NAMESPACE.encode() + b'">'
           b"<batchInfo><id>751A</id><jobId>750J</jobId><state>Completed</state>"
           b"<numberRecordsProcessed>10000</numberRecordsProcessed><numberRecordsFailed>3</numberRecordsFailed>"
           b"</batchInfo><batchInfo><id>751B</id><jobId>750J</jobId><state>InProgress</state>"
           b"<numberRecordsProcessed>0</numberRecordsProcessed></batchInfo></batchInfoList>")
    batches = parse_batch_list(xml, "application/xml")
    assert [(b.id, b.state, b.number_records_processed, b.number_records_failed) for b in batches] == [
        ("751A", "Completed", 10000, 3), ("751B", "InProgress", 0, 0)]
    assert [b.is_terminal for b in batches] == [True, False]
    as_json = json.dumps({"batchInfo": [{"id": "751A", "jobId": "750J", "state": "Queued"},
                                        {"id": "751B", "jobId": "750J", "state": "NotProcessed"}]}).encode()
    assert [b.state for b in parse_batch_list(as_json, "application/json")] == ["Queued", "NotProcessed"]
    single = json.dumps({"batchInfo": {"id": "751C", "jobId": "750J", "state": "Completed"}}).encode()
    assert [b.id for b in parse_batch_list(single, "application/json")] == ["751C"]
    empty = b'<batchInfoList xmlns="' + NAMESPACE.encode() + b'"/>'
    assert parse_batch_list(empty, "application/xml") == []


def test_parse_result_list_xml_and_json():
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><result-list xmlns="' + NAMESPACE.encode() + b'">'
           b"<result>752x00000004CJE</result><result>752x00000004CJF</result></result-list>")
    assert parse_result_list(xml, "application/xml") == ["752x00000004CJE", "752x00000004CJF"]
    assert parse_result_list(b'["752A","752B"]', "application/json") == ["752A", "752B"]


def test_format_follows_content_type_or_first_byte():
    assert parse_job(JOB_XML, "").id == "750x0000000005LAAQ"
    assert parse_job(b'{"id": "750J", "state": "Open"}', "text/plain").state == "Open"


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><jobInfo><id>&lol;</id></jobInfo>',
    b'<!doctype jobInfo SYSTEM "file:///etc/passwd"><jobInfo/>',
])
def test_doctype_and_entities_are_refused(body):
    with pytest.raises(InvalidRequestError, match="DOCTYPE"):
        parse_xml(body)


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"<jobInfo><id>750", "application/xml", "unreadable XML"),
    (b"{not json", "application/json", "unreadable JSON"),
    (BATCH_XML, "application/xml", "expected a <jobInfo> answer"),
    (b'<jobInfo xmlns="x"><state>Open</state></jobInfo>', "application/xml", "without an id"),
    (b"[1, 2]", "application/json", "expected a jobInfo object"),
])
def test_bad_answers_raise_clear_errors(body, content_type, message):
    with pytest.raises(InvalidRequestError, match=message):
        parse_job(body, content_type)


def test_job_dataclass_defaults_from_a_create_answer():
    job = Bulk1Job.from_mapping({"id": "750J", "operation": "query", "object": "Account", "state": "Open"})
    assert (job.content_type, job.concurrency_mode, job.number_batches_total, job.api_version) == (
        "XML", "Parallel", 0, None)


def test_error_text_matches_csv_result_format():
    assert error_text("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]) == (
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --")
    assert error_text("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []) == (
        "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--")
    assert error_text("X", "m", ["A", "B"]) == "X:m:A,B --"


def test_json_results_from_the_documented_shape():
    payload = [{"success": True, "created": True, "id": "001xx0000001", "errors": []},
               {"success": False, "created": False, "id": None,
                "errors": [{"statusCode": "FIELD_FILTER_VALIDATION_EXCEPTION",
                            "message": "Value does not exist or does not match filter criteria.",
                            "fields": ["Foo__c"]}]}]
    assert result_rows_from_json(payload) == [
        ("001xx0000001", True, True, ""),
        ("", False, False, "FIELD_FILTER_VALIDATION_EXCEPTION:Value does not exist or does not match filter "
                           "criteria.:Foo__c --")]
    with pytest.raises(InvalidRequestError):
        result_rows_from_json({"exceptionCode": "InvalidBatch"})


def test_xml_results_in_wsc_child_order():
    body = (b'<?xml version="1.0" encoding="UTF-8"?><results xmlns="' + NAMESPACE.encode() + b'" '
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            b"<result><id>003x01</id><success>true</success><created>false</created></result>"
            b"<result><errors><fields>LastName</fields><message>Required fields are missing: [LastName]</message>"
            b"<statusCode>REQUIRED_FIELD_MISSING</statusCode></errors><id xsi:nil=\"true\"/>"
            b"<success>false</success><created>false</created></result></results>")
    assert result_rows_from_xml(body) == [
        ("003x01", True, False, ""),
        ("", False, False, "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --")]
