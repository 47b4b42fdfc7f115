"""Bulk API 2.0 ingest over plain HTTP: job lifecycle, wire formats and every refusal (reference §1)."""

from __future__ import annotations

import gzip

import pytest

from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings
from tests.integration.conftest import org_session, unique

from .support import base, create_job, parse, run_job, wait


def _error(response) -> tuple[int, str, str]:
    [body] = response.json()
    return response.status_code, body["errorCode"], body["message"]


def test_create_response_has_the_documented_fields(http, local_org):
    job = create_job(http, local_org, "account", "upsert", externalIdFieldName="legacy_id__c",
                     columnDelimiter="PIPE", lineEnding="CRLF", assignmentRuleId="01Q000000000001")
    assert job["id"].startswith("750") and len(job["id"]) == 18
    assert (job["object"], job["state"], job["externalIdFieldName"]) == ("Account", "Open", "Legacy_Id__c")
    assert (job["columnDelimiter"], job["lineEnding"], job["contentType"]) == ("PIPE", "CRLF", "CSV")
    assert job["contentUrl"] == f"services/data/v62.0/jobs/ingest/{job['id']}/batches"
    assert job["apiVersion"] == 62.0 and job["concurrencyMode"] == "Parallel"
    assert job["assignmentRuleId"] == "01Q000000000001"
    assert job["createdById"].startswith("005") and job["createdDate"].endswith("+0000")
    assert "numberRecordsProcessed" not in job


def test_full_lifecycle_and_job_info(http, local_org):
    tag = unique("LC")
    outcome = run_job(http, local_org, "Account", "insert", f"Name,Legacy_Id__c\nAcme,{tag}\n,{tag}-2\n")
    info = outcome.info
    assert info["state"] == "JobComplete" and info["jobType"] == "V2Ingest"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"], info["retries"]) == (2, 1, 0)
    for key in ("totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime", "systemModstamp"):
        assert key in info
    assert "errorMessage" not in info
    assert outcome.raw["successfulResults"].splitlines()[0] == '"sf__Id","sf__Created",Name,Legacy_Id__c'
    assert outcome.raw["failedResults"].splitlines()[0] == '"sf__Id","sf__Error",Name,Legacy_Id__c'
    assert outcome.raw["successfulResults"].splitlines()[1].startswith('"001')
    assert outcome.raw["unprocessedrecords"] == "Name,Legacy_Id__c\n"


def test_multipart_create_uploads_and_closes_in_one_call(http, local_org):
    tag = unique("MP")
    files = {"job": ("job", '{"object":"Account","operation":"insert"}', "application/json"),
             "content": ("content", f"Name,Legacy_Id__c\nMulti,{tag}\n", "text/csv")}
    response = http.post(f"{base(local_org)}/jobs/ingest", files=files)
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["state"] == "UploadComplete"
    assert wait(http, f"{base(local_org)}/jobs/ingest/{job['id']}")["numberRecordsProcessed"] == 1


def test_multipart_needs_both_parts_and_a_small_csv(http, local_org):
    missing = http.post(f"{base(local_org)}/jobs/ingest",
                        files={"job": ("job", '{"object":"Account","operation":"insert"}', "application/json")})
    assert _error(missing)[:2] == (400, "INVALIDJOB")
    big = http.post(f"{base(local_org)}/jobs/ingest",
                    files={"job": ("job", '{"object":"Account","operation":"insert"}', "application/json"),
                           "content": ("content", "Name\n" + "x\n" * 60_000, "text/csv")})
    assert _error(big)[:2] == (400, "API_ERROR")
    bad_json = http.post(f"{base(local_org)}/jobs/ingest", files={"job": ("job", "{", "application/json"),
                                                                  "content": ("content", "Name\n", "text/csv")})
    assert _error(bad_json)[:2] == (400, "JSON_PARSER_ERROR")


@pytest.mark.parametrize(("body", "code", "text"), [
    ({"object": "NoSuchThing__c", "operation": "insert"}, "INVALIDJOB", "Unable to find object: NoSuchThing__c"),
    ({"object": "Account", "operation": "merge"}, "INVALIDJOB", "Invalid operation: merge"),
    ({"object": "Account"}, "INVALIDJOB", "needs an operation"),
    ({"operation": "insert"}, "INVALIDJOB", "needs an object"),
    ({"object": "Account", "operation": "upsert"}, "INVALIDJOB", "External ID was blank for Account"),
    ({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}, "INVALIDJOB",
     "Field name provided, Name does not match an External ID"),
    ({"object": "Account", "operation": "insert", "columnDelimiter": "COLON"}, "JSON_PARSER_ERROR", "COLON"),
    ({"object": "Account", "operation": "insert", "lineEnding": "CR"}, "JSON_PARSER_ERROR", "lineEnding"),
    ({"object": "Account", "operation": "insert", "contentType": "JSON"}, "JSON_PARSER_ERROR", "contentType"),
    ({"object": 7, "operation": "insert"}, "JSON_PARSER_ERROR", "expected a string"),
    ({"object": "CampaignMember", "operation": "insert", "externalIdFieldName": None}, None, None),
])
def test_create_refusals(http, local_org, body, code, text):
    response = http.post(f"{base(local_org)}/jobs/ingest", json=body)
    if code is None:
        assert response.status_code == 200
        return
    status, error_code, message = _error(response)
    assert (status, error_code) == (400, code) and text in message


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\xff\xfe", b""])
def test_create_with_a_body_that_is_not_a_json_object(http, local_org, raw):
    response = http.post(f"{base(local_org)}/jobs/ingest", data=raw, headers={"Content-Type": "application/json"})
    assert _error(response)[:2] == (400, "JSON_PARSER_ERROR")


def test_accept_header_is_ignored_on_create_and_info(http, local_org):
    response = http.post(f"{base(local_org)}/jobs/ingest", json={"object": "Account", "operation": "insert"},
                         headers={"Accept": "text/csv; charset=UTF-8"})
    assert response.status_code == 200 and response.json()["state"] == "Open"
    info = http.get(f"{base(local_org)}/jobs/ingest/{response.json()['id']}", headers={"Accept": "*/*"})
    assert info.json()["id"] == response.json()["id"]


def test_paths_tolerate_trailing_and_double_slashes(http, local_org):
    created = http.post(f"{base(local_org)}/jobs/ingest//", json={"object": "Account", "operation": "insert"})
    job_id = created.json()["id"]
    put = http.put(f"{base(local_org)}/jobs/ingest/{job_id}/batches/", data=b"Name\nSlash\n")
    assert put.status_code == 201
    assert http.patch(f"{base(local_org)}/jobs/ingest/{job_id}/", json={"state": "UploadComplete"}).ok
    info = wait(http, f"{base(local_org)}//jobs//ingest/{job_id}/")
    assert info["numberRecordsProcessed"] == 1
    results = http.get(f"{base(local_org)}/jobs/ingest/{job_id}/successfulResults/")
    assert results.status_code == 200 and "Slash" in results.text


def test_result_segment_is_case_insensitive_and_unknown_segments_are_404(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    for segment in ("unprocessedrecords", "unprocessedRecords", "SUCCESSFULRESULTS", "failedresults"):
        assert http.get(f"{base(local_org)}/jobs/ingest/{job['id']}/{segment}").status_code == 200
    assert _error(http.get(f"{base(local_org)}/jobs/ingest/{job['id']}/results"))[:2] == (404, "NOT_FOUND")


def test_upload_is_201_with_an_empty_body_and_only_once(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    url = f"{base(local_org)}/jobs/ingest/{job['id']}/batches"
    first = http.put(url, data=b"Name\nOnce\n", headers={"Content-Type": "text/csv; charset=UTF-8"})
    assert (first.status_code, first.content) == (201, b"")
    status, code, message = _error(http.put(url, data=b"Name\nTwice\n"))
    assert (status, code) == (400, "INVALIDJOBSTATE") and "Found multiple contents for job" in message


def test_upload_to_a_job_that_is_not_open(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    http.patch(f"{base(local_org)}/jobs/ingest/{job['id']}", json={"state": "Aborted"})
    status, code, message = _error(http.put(f"{base(local_org)}/jobs/ingest/{job['id']}/batches", data=b"Name\n"))
    assert (status, code) == (400, "INVALIDJOBSTATE") and "Aborted" in message


def test_oversized_upload_is_refused_and_the_job_stays_usable(tmp_path, legacy_schema_file):
    settings = OrgSettings(max_upload_bytes=64)
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file], settings=settings) as org:
        http = org_session(org)
        job = create_job(http, org, "Account", "insert")
        url = f"{base(org)}/jobs/ingest/{job['id']}/batches"
        status, code, message = _error(http.put(url, data=b"Name\n" + b"A long account name\n" * 10))
        assert (status, code) == (413, "EXCEEDED_MAX_SIZE_REQUEST") and "at most 64 bytes" in message
        assert http.put(url, data=b"Name\nSmall\n").status_code == 201
        gzipped = create_job(http, org, "Account", "insert")
        big = gzip.compress(b"Name\n" + b"x" * 500 + b"\n")
        response = http.put(f"{base(org)}/jobs/ingest/{gzipped['id']}/batches", data=big,
                            headers={"Content-Encoding": "gzip"})
        assert response.status_code == 413, "the limit applies to the inflated data"


def test_gzip_request_bodies_and_gzip_responses(http, local_org):
    tag = unique("GZ")
    job = create_job(http, local_org, "Account", "insert")
    body = gzip.compress(("Name,Legacy_Id__c\n" + "".join(f"Zipped {n},{tag}-{n}\n" for n in range(50))).encode())
    put = http.put(f"{base(local_org)}/jobs/ingest/{job['id']}/batches", data=body,
                   headers={"Content-Encoding": "gzip", "Content-Type": "text/csv"})
    assert put.status_code == 201
    patch = http.patch(f"{base(local_org)}/jobs/ingest/{job['id']}", data=gzip.compress(b'{"state":"UploadComplete"}'),
                       headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert patch.json()["state"] == "UploadComplete"
    wait(http, f"{base(local_org)}/jobs/ingest/{job['id']}")
    results = http.get(f"{base(local_org)}/jobs/ingest/{job['id']}/successfulResults",
                       headers={"Accept-Encoding": "gzip"}, stream=True)
    assert results.headers["Content-Encoding"] == "gzip"
    assert len(parse(results.content.decode())) == 50  # requests inflates it
    plain = http.get(f"{base(local_org)}/jobs/ingest/{job['id']}/successfulResults",
                     headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and len(parse(plain.text)) == 50


def test_broken_gzip_body_is_a_400(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    response = http.put(f"{base(local_org)}/jobs/ingest/{job['id']}/batches", data=b"not gzip at all",
                        headers={"Content-Encoding": "gzip"})
    assert _error(response)[:2] == (400, "API_ERROR")


@pytest.mark.parametrize(("delimiter", "char"), [("BACKQUOTE", "`"), ("CARET", "^"), ("COMMA", ","),
                                                 ("PIPE", "|"), ("SEMICOLON", ";"), ("TAB", "\t")])
def test_every_delimiter_round_trips_in_results(http, local_org, delimiter, char):
    tag = unique("DL")
    data = f"Name{char}Legacy_Id__c\r\n\"Acme{char} \"\"Inc\"\"\"{char}{tag}\r\n"
    outcome = run_job(http, local_org, "Account", "insert", data, delimiter=char, columnDelimiter=delimiter,
                      lineEnding="CRLF")
    assert outcome.info["numberRecordsFailed"] == 0
    lines = outcome.raw["successfulResults"].split("\r\n")
    assert lines[0] == f'"sf__Id"{char}"sf__Created"{char}Name{char}Legacy_Id__c'
    assert lines[1].endswith(f'{char}"true"{char}"Acme{char} ""Inc"""{char}"{tag}"')
    assert outcome.successful[0]["Name"] == f'Acme{char} "Inc"'


def test_line_ending_mismatch_fails_the_job(http, local_org):
    outcome = run_job(http, local_org, "Account", "insert", "Name\r\nCRLF Corp\r\n", lineEnding="LF")
    assert outcome.info["state"] == "Failed"
    assert outcome.info["errorMessage"] == ("ClientInputError : LineEnding is invalid on user data. "
                                            "Current LineEnding setting is LF")
    assert outcome.info["numberRecordsProcessed"] == 0
    crlf = run_job(http, local_org, "Account", "insert", "Name\nLF Corp\n", lineEnding="CRLF")
    assert crlf.info["errorMessage"].endswith("Current LineEnding setting is CRLF")
    assert crlf.raw["unprocessedrecords"] == "Name\nLF Corp\n"


def test_unknown_header_fails_the_job_and_lists_every_row_unprocessed(http, local_org):
    outcome = run_job(http, local_org, "Account", "insert", "Name,Nonexistent__c\nA,1\nB,2\n")
    assert outcome.info["state"] == "Failed"
    assert outcome.info["errorMessage"] == "InvalidBatch : Field name not found : Nonexistent__c"
    assert [r["Name"] for r in outcome.unprocessed] == ["A", "B"]
    assert outcome.successful == [] and outcome.failed == []


@pytest.mark.parametrize(("header", "message"), [
    ("Name,Owner.LastName", "Field name provided, LastName does not match an External ID, Salesforce Id, or "
                            "indexed field for User"),
    ("Name,Parent.Nope__c", "Field name not found : Parent.Nope__c"),
    ("Name,Bogus.Legacy_Id__c", "Field name not found : Bogus.Legacy_Id__c"),
    ("Name,Account:Parent.Legacy_Id__c", "Field name not found : Account:Parent.Legacy_Id__c"),
    ("Name,name", "Duplicate field name: name"),
])
def test_bad_relationship_and_duplicate_headers(http, local_org, header, message):
    outcome = run_job(http, local_org, "Account", "insert", f"{header}\nA,B\n")
    assert outcome.info["state"] == "Failed" and outcome.info["errorMessage"] == f"InvalidBatch : {message}"


def test_polymorphic_header_without_a_type_names_the_fix(http, local_org):
    outcome = run_job(http, local_org, "Task", "insert", "Subject,What.Legacy_Id__c\nCall,X\n")
    assert outcome.info["errorMessage"].startswith("InvalidBatch : Field name not found : What.Legacy_Id__c")
    assert "Account:What.Legacy_Id__c" in outcome.info["errorMessage"]


@pytest.mark.parametrize("data", ['Name,Site\n"unterminated,x\n', "Name,Site\na,b,c\n", b"Name\n\xff\xfe\n"])
def test_malformed_csv_fails_the_job_with_a_client_input_error(http, local_org, data):
    outcome = run_job(http, local_org, "Account", "insert", data)
    assert outcome.info["state"] == "Failed"
    assert outcome.info["errorMessage"].startswith("ClientInputError : ")
    assert outcome.successful == [] and outcome.failed == []


def test_wrong_number_of_values_names_the_line(http, local_org):
    outcome = run_job(http, local_org, "Account", "insert", "Name,Site\na,b\nc\n")
    assert outcome.info["errorMessage"] == ("ClientInputError : line 3 has 1 values but the header has 2 columns "
                                            "(1 such row(s))")


def test_empty_upload_completes_with_empty_results(http, local_org):
    outcome = run_job(http, local_org, "Account", "insert", b"")
    assert (outcome.info["state"], outcome.info["numberRecordsProcessed"]) == ("JobComplete", 0)
    assert outcome.raw["successfulResults"] == '"sf__Id","sf__Created"\n'
    header_only = run_job(http, local_org, "Account", "insert", "Name,Site\n")
    assert header_only.raw["failedResults"] == '"sf__Id","sf__Error",Name,Site\n'


def test_utf8_bom_is_ignored(http, local_org):
    tag = unique("BOM")
    outcome = run_job(http, local_org, "Account", "insert", f"\ufeffName,Legacy_Id__c\nÉcole,{tag}\n".encode())
    assert outcome.info["numberRecordsFailed"] == 0
    assert outcome.raw["successfulResults"].splitlines()[0].endswith(",Name,Legacy_Id__c")
    assert outcome.successful[0]["Name"] == "École"


def test_patch_state_machine(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    url = f"{base(local_org)}/jobs/ingest/{job['id']}"
    assert _error(http.patch(url, json={"state": "JobComplete"}))[:2] == (400, "INVALIDJOBSTATE")
    assert _error(http.patch(url, json={"state": 3}))[:2] == (400, "JSON_PARSER_ERROR")
    assert _error(http.patch(url, data=b"nope", headers={"Content-Type": "application/json"}))[:2] == \
        (400, "JSON_PARSER_ERROR")
    closed = http.patch(url, json={"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    assert wait(http, url)["state"] == "JobComplete"
    status, code, message = _error(http.patch(url, json={"state": "UploadComplete"}))
    assert (status, code) == (400, "INVALIDJOBSTATE") and "only an Open job" in message
    assert _error(http.patch(url, json={"state": "Aborted"})) == \
        (400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed")


def test_abort_lists_the_upload_as_unprocessed(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    url = f"{base(local_org)}/jobs/ingest/{job['id']}"
    http.put(url + "/batches", data=b"Name\nNever\n")
    aborted = http.patch(url, json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    assert http.get(url + "/unprocessedrecords").text == "Name\nNever\n"
    assert http.get(url).json()["numberRecordsProcessed"] == 0


def test_delete_rules_and_unknown_jobs(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    url = f"{base(local_org)}/jobs/ingest/{job['id']}"
    assert _error(http.delete(url)) == (400, "API_ERROR", "Error encountered when deleting the job because the "
                                                          "job is not terminated")
    http.patch(url, json={"state": "Aborted"})
    deleted = http.delete(url)
    assert (deleted.status_code, deleted.content) == (204, b"")
    not_found = (404, "NOT_FOUND", "The requested resource does not exist")
    assert _error(http.get(url)) == not_found
    assert _error(http.delete(url)) == not_found
    assert _error(http.patch(url, json={"state": "Aborted"})) == not_found
    assert _error(http.get(f"{base(local_org)}/jobs/ingest/750000000000000AAA")) == not_found
    assert _error(http.get(f"{base(local_org)}/jobs/ingest/not-an-id/failedResults")) == not_found
    assert _error(http.put(f"{base(local_org)}/jobs/ingest/750000000000000/batches", data=b"x")) == not_found


def test_fifteen_character_job_ids_work(http, local_org):
    job = create_job(http, local_org, "Account", "insert")
    assert http.get(f"{base(local_org)}/jobs/ingest/{job['id'][:15]}").json()["id"] == job["id"]


def test_list_pages_with_next_records_url(tmp_path, legacy_schema_file):
    with LocalOrgServer(tmp_path / "org.db", schema_files=[legacy_schema_file],
                        settings=OrgSettings(list_page_size=2)) as org:
        http = org_session(org)
        created = [create_job(http, org, "Account", "insert")["id"] for _ in range(5)]
        seen, url, pages = [], f"{base(org)}/jobs/ingest", 0
        while url:
            page = http.get(url).json()
            pages += 1
            seen += [r["id"] for r in page["records"]]
            assert all(r["jobType"] == "V2Ingest" and "numberRecordsProcessed" not in r for r in page["records"])
            url = org.instance_url + page["nextRecordsUrl"] if page["nextRecordsUrl"] else None
            assert page["done"] == (url is None)
        assert (seen, pages) == (created, 3)
        assert http.get(f"{base(org)}/jobs/ingest", params={"jobType": "Classic"}).json()["records"] == []
        assert http.get(f"{base(org)}/jobs/ingest", params={"isPkChunkingEnabled": "true"}).json()["records"] == []
        bad = http.get(f"{base(org)}/jobs/ingest", params={"queryLocator": "***"})
        assert _error(bad)[:2] == (400, "INVALID_QUERY_LOCATOR")


def test_ingest_needs_api_41(http, local_org):
    assert _error(http.get(f"{local_org.instance_url}/services/data/v40.0/jobs/ingest"))[:2] == (404, "NOT_FOUND")
