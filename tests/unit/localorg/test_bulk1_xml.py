"""Bulk API 1.0 documents: safe XML reading, order-tolerant jobInfo requests, XSD-ordered answers."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from migrator.localorg.bulk1_batches import JobCounts
from migrator.localorg.bulk1_errors import Bulk1Error, error_response, xml_text
from migrator.localorg.bulk1_jobs import job_info
from migrator.localorg.bulk1_xml import (
    JOB_FIELDS,
    XmlInputError,
    batch_list_document,
    document,
    parse_job_request,
    parse_xml,
    result_list_document,
    xml_datetime,
)
from migrator.localorg.jobs import Job

NS = "http://www.force.com/2009/06/asyncapi/dataload"


@pytest.mark.parametrize("data", [
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.invalid/x.dtd"><r/>',
    b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16"),
    b"<r>&undefined;</r>", b"<r>", b"", b"not xml at all",
])
def test_unsafe_or_broken_xml_is_refused(data):
    with pytest.raises(XmlInputError):
        parse_xml(data)


def test_xml_keeps_namespaces_as_clark_names_and_text():
    root = parse_xml(f'<a xmlns="{NS}" xmlns:xsi="x"><b xsi:nil="true"/><c>t&amp;u</c></a>'.encode())
    assert root.tag == f"{{{NS}}}a"
    assert root[0].attrib == {"{x}nil": "true"} and root[1].text == "t&u"


def test_job_requests_are_order_tolerant_and_drop_read_only_fields():
    jsforce_style = (f'<jobInfo xmlns="{NS}">\n<operation>upsert</operation>\n<object>Contact</object>\n'
                     "<externalIdFieldName>Ext__c</externalIdFieldName>\n\n<assignmentRuleId>01Q</assignmentRuleId>\n"
                     "<contentType>CSV</contentType><id>750x</id><numberBatchesTotal>3</numberBatchesTotal>"
                     "<concurrencyMode></concurrencyMode></jobInfo>")
    assert parse_job_request(jsforce_style.encode(), "xml") == {
        "operation": "upsert", "object": "Contact", "externalIdFieldName": "Ext__c", "assignmentRuleId": "01Q",
        "contentType": "CSV"}
    no_namespace = parse_job_request(b"<jobInfo><state>Closed</state></jobInfo>", "xml")
    assert no_namespace == {"state": "Closed"}
    assert parse_job_request(b'{"operation": "insert", "concurrencyMode": 1, "id": "x", "object": null}', "json") == \
           {"operation": "insert", "concurrencyMode": 1}


@pytest.mark.parametrize(("data", "fmt", "code"), [
    (b"<jobInfo><nope/></jobInfo>", "xml", "InvalidXml"),
    (b"<sObjects/>", "xml", "InvalidXml"),
    (b"{", "json", "ClientInputError"),
    (b'"text"', "json", "ClientInputError"),
    (b'{"operation": {"a": 1}}', "json", "ClientInputError"),
    (b'{"operation": Infinity}', "json", "ClientInputError"),
])
def test_bad_job_requests(data, fmt, code):
    with pytest.raises(Bulk1Error) as caught:
        parse_job_request(data, fmt)
    assert caught.value.code == code and caught.value.status == 400


def _job(**values) -> Job:
    base = {"id": "750Lo0000000001IAA", "api": "ingest", "job_type": "Classic", "operation": "insert",
            "object": "Account", "state": "Open", "api_version": "62.0", "created_by": "005Lo0000000001IAA",
            "created_date": "2024-03-20T21:42:13.000+0000", "system_modstamp": "2024-03-20T21:42:14.000+0000"}
    return Job(**{**base, **values})


def test_job_info_xml_follows_the_xsd_order_and_leaves_out_nulls():
    counts = JobCounts(queued=1, completed=2, total=3, records_processed=20, records_failed=1)
    text = document("jobInfo", job_info(_job(content_type="CSV"), counts, "xml"), "xml")
    assert text.startswith(f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{NS}">')
    root = ElementTree.fromstring(text)
    names = [child.tag.split("}")[1] for child in root]
    assert names == [n for n in JOB_FIELDS if n not in ("externalIdFieldName", "assignmentRuleId")]
    values = {child.tag.split("}")[1]: child.text for child in root}
    assert (values["createdDate"], values["apiVersion"], values["numberBatchesTotal"]) == \
           ("2024-03-20T21:42:13.000Z", "62.0", "3")


def test_job_info_json_carries_numbers_nulls_and_fast_path():
    info = json.loads(document("jobInfo", job_info(_job(content_type="JSON", concurrency_mode="Serial"),
                                                   JobCounts(), "json"), "json"))
    assert info["apiVersion"] == 62.0 and info["externalIdFieldName"] is None and info["fastPathEnabled"] is False
    assert info["createdDate"] == "2024-03-20T21:42:13.000+0000" and info["concurrencyMode"] == "Serial"


def test_lists_and_errors_in_both_formats():
    batches = [[("id", "751a"), ("state", "Queued"), ("stateMessage", None)], [("id", "751b"), ("state", "Failed")]]
    assert json.loads(batch_list_document(batches, "json")) == {"batchInfo": [{"id": "751a", "state": "Queued"},
                                                                             {"id": "751b", "state": "Failed"}]}
    root = ElementTree.fromstring(batch_list_document(batches, "xml"))
    assert root.tag == f"{{{NS}}}batchInfoList" and [b[0].text for b in root] == ["751a", "751b"]
    assert json.loads(result_list_document(["752a"], "json")) == ["752a"]
    assert ElementTree.fromstring(result_list_document(["752a", "752b"], "xml")).tag == f"{{{NS}}}result-list"
    error = error_response("InvalidBatch", "bad <thing> \x00 here", 400, "xml")
    assert error.headers["content-type"] == "application/xml"
    root = ElementTree.fromstring(error.body)
    assert [c.text for c in root] == ["InvalidBatch", "bad <thing> \ufffd here"]
    assert json.loads(error_response("InvalidJob", "x", 400, "json").body) == {"exceptionCode": "InvalidJob",
                                                                              "exceptionMessage": "x"}
    assert xml_datetime("2024-01-02T03:04:05.000+0000") == "2024-01-02T03:04:05.000Z"
    assert xml_text("a&b") == "a&amp;b"
