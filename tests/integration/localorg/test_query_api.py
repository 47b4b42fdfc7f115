"""Bulk API 2.0 query jobs over plain HTTP: creation errors, paging headers, formats, stability (§2)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import unique

from .support import base, parse, run_job, wait


def _error(response) -> tuple[int, str, str]:
    [body] = response.json()
    return response.status_code, body["errorCode"], body["message"]


def _query_job(http, org, soql: str, **options) -> dict:
    response = http.post(f"{base(org)}/jobs/query", json={"operation": "query", "query": soql, **options},
                         headers={"Accept": "text/csv; charset=UTF-8"})  # what simple-salesforce sends
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def accounts(local_org) -> str:
    """25 accounts tagged with one prefix, one of them deleted."""
    from tests.integration.conftest import org_session

    http = org_session(local_org)
    tag = unique("QRY")
    lines = ["Name,Legacy_Id__c,Site"] + [f"Q {n:02d},{tag}-{n:02d},\"line one\nline \"\"two\"\"\"" for n in range(25)]
    outcome = run_job(http, local_org, "Account", "insert", "\n".join(lines) + "\n")
    gone = next(r["sf__Id"] for r in outcome.successful if r["Name"] == "Q 24")
    run_job(http, local_org, "Account", "delete", f"Id\n{gone}\n")
    return tag


def test_create_info_and_single_page(http, local_org, accounts):
    job = _query_job(http, local_org, f"SELECT Id, Name FROM Account WHERE Legacy_Id__c LIKE '{accounts}-%'")
    assert (job["state"], job["object"], job["operation"]) == ("UploadComplete", "Account", "query")
    assert job["id"].startswith("750") and "jobType" not in job
    info = wait(http, f"{base(local_org)}/jobs/query/{job['id']}")
    assert (info["state"], info["jobType"], info["numberRecordsProcessed"]) == ("JobComplete", "V2Query", 24)
    assert {"retries", "totalProcessingTime", "isPkChunkingSupported"} <= set(info)
    page = http.get(f"{base(local_org)}/jobs/query/{job['id']}/results")
    assert page.headers["Sforce-Locator"] == "null" and page.headers["Sforce-NumberOfRecords"] == "24"
    assert page.headers["Content-Type"].startswith("text/csv")
    rows = parse(page.text)
    assert len(rows) == 24 and rows[0]["Id"].startswith("001")
    for response in (info, http.get(f"{base(local_org)}/jobs/query/{job['id']}")):
        headers = getattr(response, "headers", {})
        assert "Sforce-Locator" not in headers


def test_pages_by_max_records_each_with_a_header(http, local_org, accounts):
    job = _query_job(http, local_org, f"SELECT Name, Site FROM Account WHERE Legacy_Id__c LIKE '{accounts}-%' "
                                      f"ORDER BY Name", columnDelimiter="SEMICOLON", lineEnding="CRLF")
    wait(http, f"{base(local_org)}/jobs/query/{job['id']}")
    url, locator, pages = f"{base(local_org)}/jobs/query/{job['id']}/results", None, []
    while locator != "null":
        response = http.get(url, params={"maxRecords": 10, **({"locator": locator} if locator else {})})
        locator = response.headers["Sforce-Locator"]
        pages.append(response)
    assert [p.headers["Sforce-NumberOfRecords"] for p in pages] == ["10", "10", "4"]
    assert all(p.text.startswith('"Name";"Site"\r\n') for p in pages)
    names = [row["Name"] for p in pages for row in parse(p.text, ";")]
    assert names == [f"Q {n:02d}" for n in range(24)]
    assert parse(pages[0].text, ";")[0]["Site"] == 'line one\nline "two"'
    again = http.get(url, params={"maxRecords": 10, "locator": pages[0].headers["Sforce-Locator"]})
    assert again.content == pages[1].content, "pages are stable and re-readable"


def test_query_all_sees_deleted_rows(http, local_org, accounts):
    job = _query_job(http, local_org, f"SELECT Name, IsDeleted FROM Account WHERE Legacy_Id__c LIKE '{accounts}-%'",
                     operation="queryAll")
    assert wait(http, f"{base(local_org)}/jobs/query/{job['id']}")["numberRecordsProcessed"] == 25
    rows = parse(http.get(f"{base(local_org)}/jobs/query/{job['id']}/results").text)
    assert {r["IsDeleted"] for r in rows} == {"true", "false"}


def test_results_are_a_snapshot(http, local_org):
    tag = unique("SNAP")
    run_job(http, local_org, "Account", "insert", f"Name,Legacy_Id__c\nBefore,{tag}\n")
    job = _query_job(http, local_org, f"SELECT Name FROM Account WHERE Legacy_Id__c = '{tag}'")
    wait(http, f"{base(local_org)}/jobs/query/{job['id']}")
    run_job(http, local_org, "Account", "upsert", f"Name,Legacy_Id__c\nAfter,{tag}\n",
            externalIdFieldName="Legacy_Id__c")
    assert parse(http.get(f"{base(local_org)}/jobs/query/{job['id']}/results").text) == [{"Name": "Before"}]


def test_zero_rows_is_a_header_and_a_null_locator(http, local_org):
    job = _query_job(http, local_org, "SELECT Id, Name FROM Account WHERE Name = 'no such account at all'")
    wait(http, f"{base(local_org)}/jobs/query/{job['id']}")
    page = http.get(f"{base(local_org)}/jobs/query/{job['id']}/results", params={"maxRecords": 5})
    assert (page.text, page.headers["Sforce-NumberOfRecords"], page.headers["Sforce-Locator"]) == \
        ('"Id","Name"\n', "0", "null")


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT COUNT() FROM Account", "API_ERROR"),
    ("SELECT COUNT(Id) FROM Account", "API_ERROR"),
    ("SELECT Id FROM Account LIMIT 5 OFFSET 2", "API_ERROR"),
    ("SELECT Id FROM NoSuchObject__c", "INVALID_TYPE"),
    ("SELECT Nope__c FROM Account", "INVALID_FIELD"),
    ("SELEKT Id FROM Account", "MALFORMED_QUERY"),
    ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "API_ERROR"),
    ("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry", "API_ERROR"),
    ("SELECT TYPEOF What WHEN Account THEN Name END FROM Task", "API_ERROR"),
])
def test_unsupported_or_wrong_soql_is_refused_at_creation(http, local_org, soql, code):
    response = http.post(f"{base(local_org)}/jobs/query", json={"operation": "query", "query": soql})
    assert _error(response)[:2] == (400, code)


def test_relationship_queries_are_refused_with_salesforces_text(http, local_org):
    response = http.post(f"{base(local_org)}/jobs/query", json={
        "operation": "query", "query": "SELECT Id, (SELECT Id FROM Contacts) FROM Account"})
    assert _error(response) == (400, "API_ERROR", "Aggregate Relationships not supported in Bulk V2 Query with CSV "
                                                  "content type.")


@pytest.mark.parametrize(("body", "code"), [
    ({"query": "SELECT Id FROM Account"}, "INVALIDJOB"),
    ({"operation": "query"}, "INVALIDJOB"),
    ({"operation": "insert", "query": "SELECT Id FROM Account"}, "JSON_PARSER_ERROR"),
    ({"operation": "query", "query": ["SELECT"]}, "JSON_PARSER_ERROR"),
    ({"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "x"}, "JSON_PARSER_ERROR"),
])
def test_create_request_errors(http, local_org, body, code):
    assert _error(http.post(f"{base(local_org)}/jobs/query", json=body))[:2] == (400, code)


def test_result_request_errors(http, local_org, accounts):
    job = _query_job(http, local_org, f"SELECT Id FROM Account WHERE Legacy_Id__c LIKE '{accounts}-%'")
    url = f"{base(local_org)}/jobs/query/{job['id']}"
    wait(http, url)
    assert _error(http.get(url + "/results", params={"maxRecords": "0"}))[:2] == (400, "API_ERROR")
    assert _error(http.get(url + "/results", params={"maxRecords": "ten"}))[:2] == (400, "API_ERROR")
    assert _error(http.get(url + "/results", params={"locator": "!!!"}))[:2] == (400, "API_ERROR")
    assert _error(http.get(url + "/results", params={"locator": "OTk5"}))[:2] == (400, "API_ERROR")  # row 999
    other_version = f"{local_org.instance_url}/services/data/v61.0/jobs/query/{job['id']}/results"
    assert _error(http.get(other_version))[:2] == (409, "API_ERROR")
    assert _error(http.get(url + "/rezults"))[:2] == (404, "NOT_FOUND")


def test_results_before_completion_abort_and_delete(http, local_org):
    job = _query_job(http, local_org, "SELECT Id FROM Account")
    url = f"{base(local_org)}/jobs/query/{job['id']}"
    aborted = http.patch(url, json={"state": "Aborted"})
    if aborted.status_code == 200:  # the worker may already have finished this small query
        assert aborted.json()["state"] == "Aborted"
        status, code, _ = _error(http.get(url + "/results"))
        assert (status, code) == (400, "INVALIDJOBSTATE")
    else:
        assert _error(aborted) == (400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed")
    assert _error(http.patch(url, json={"state": "UploadComplete"}))[:2] == (400, "INVALIDJOBSTATE")
    assert http.delete(url).status_code == 204
    assert _error(http.get(url))[:2] == (404, "NOT_FOUND")


def test_list_and_result_pages(http, local_org, accounts):
    job = _query_job(http, local_org, f"SELECT Name FROM Account WHERE Legacy_Id__c LIKE '{accounts}-%' ORDER BY Name")
    wait(http, f"{base(local_org)}/jobs/query/{job['id']}")
    listed = http.get(f"{base(local_org)}/jobs/query").json()
    assert job["id"] in {r["id"] for r in listed["records"]} and listed["done"] is True
    assert {r["jobType"] for r in listed["records"]} <= {"V2Query", "Classic"}  # lists include Bulk 1.0 jobs
    only_v2 = http.get(f"{base(local_org)}/jobs/query", params={"jobType": "V2Query"}).json()
    assert job["id"] in {r["id"] for r in only_v2["records"]}
    assert all(r["jobType"] == "V2Query" for r in only_v2["records"])
    pages = http.get(f"{base(local_org)}/jobs/query/{job['id']}/resultPages", params={"maxRecords": 4}).json()
    assert len(pages["resultPages"]) == 5 and pages["done"] is False
    assert "/resultpages?locator=" in pages["nextRecordsUrl"]
    rest = http.get(local_org.instance_url + pages["nextRecordsUrl"]).json()
    assert rest["done"] is True and rest["nextRecordsUrl"] is None
    names = [row["Name"] for p in pages["resultPages"] + rest["resultPages"]
             for row in parse(http.get(local_org.instance_url + p["resultUrl"]).text)]
    assert names == [f"Q {n:02d}" for n in range(24)]
    old = f"{local_org.instance_url}/services/data/v57.0/jobs/query/{job['id']}/resultPages"
    assert _error(http.get(old))[:2] == (404, "NOT_FOUND")


def test_query_needs_api_47(http, local_org):
    response = http.post(f"{local_org.instance_url}/services/data/v46.0/jobs/query",
                         json={"operation": "query", "query": "SELECT Id FROM Account"})
    assert _error(response)[:2] == (404, "NOT_FOUND")
