"""Fuzzing the live server with hypothesis: random methods, paths, headers, query strings and bodies.

Whatever arrives, the answer is never a 500, and every REST / Bulk 2.0 error is a Salesforce-shaped
``[{"errorCode", "message"}]`` array. The org is this module's own, so nothing the fuzzer changes
(jobs aborted or deleted, faults) reaches other tests.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.localorg.server import LocalOrgServer
from tests.integration.conftest import org_session

from .support import base, create_job, run_job, wait

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
JOB_KEYS = ("object", "operation", "externalIdFieldName", "columnDelimiter", "lineEnding", "contentType",
            "query", "state", "assignmentRuleId", "spec", "lock_rate")
KNOWN_VALUES = ("Account", "Contact", "Task", "insert", "upsert", "update", "delete", "hardDelete", "query",
                "queryAll", "Legacy_Id__c", "Id", "COMMA", "PIPE", "TAB", "LF", "CRLF", "CSV", "UploadComplete",
                "Aborted", "JobComplete", "SELECT Id FROM Account", "SELECT COUNT() FROM Account",
                "SELECT Id FROM Account LIMIT 1 OFFSET 1", "SELECT Nope FROM Account")
CSV_BODIES = ("Name\nFuzz\n", "Name,Legacy_Id__c\nA,F-1\nB,F-1\n", "Id\n001000000000000AAA\n", '"Name\nx\n',
              "Name,Bogus__c\n1,2\n", "Name\r\nCR\r\n", "LastName,Account.Legacy_Id__c\nX,nope\n", "")


@pytest.fixture(scope="module")
def fuzz_org(tmp_path_factory, legacy_schema_file) -> Iterator[tuple[LocalOrgServer, list[str]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    with LocalOrgServer(folder / "org.db", schema_files=[legacy_schema_file]) as org:
        http = org_session(org)
        done = run_job(http, org, "Account", "insert", "Name,Legacy_Id__c\nSeed,F-1\n").info["id"]
        open_job = create_job(http, org, "Contact", "upsert", externalIdFieldName="Legacy_Id__c")["id"]
        query = http.post(f"{base(org)}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"})
        wait(http, f"{base(org)}/jobs/query/{query.json()['id']}")
        yield org, [done, open_job, query.json()["id"]]


def _paths(job_ids: list[str]) -> st.SearchStrategy[str]:
    version = st.sampled_from(["v62.0", "v58.0", "v41.0", "v30.0", "v99.0", "vx", "62.0", ""])
    job = st.sampled_from([*job_ids, *(j[:15] for j in job_ids), "750000000000000AAA", "x", ""])
    kind = st.sampled_from(["", "batches", "successfulResults", "failedresults", "unprocessedRecords", "results",
                            "resultPages", "nope"])
    jobs = st.builds(lambda v, api, j, k: f"/services/data/{v}/jobs/{api}/{j}/{k}", version,
                     st.sampled_from(["ingest", "query", "other"]), job, kind)
    rest = st.builds(lambda v, tail: f"/services/data/{v}/{tail}", version,
                     st.sampled_from(["", "limits", "sobjects", "sobjects/Account", "sobjects/Account/describe",
                                      "sobjects/Nope/describe", f"sobjects/Account/{job_ids[0]}", "query", "queryAll",
                                      "query/01gabc-2000", "jobs/ingest", "jobs/query"]))
    other = st.sampled_from(["/services/data", "/services/oauth2/token", "/services/oauth2/userinfo",
                             "/services/oauth2/revoke", "/__admin/faults", "/id/x/y", "/", "//services//data//"])
    return st.one_of(jobs, rest, other, st.builds(lambda s: "/services/data/v62.0/" + s, TEXT))


def _bodies() -> st.SearchStrategy[bytes]:
    scalar = st.one_of(st.sampled_from(KNOWN_VALUES), TEXT, st.integers(), st.none(), st.booleans(),
                       st.floats(allow_nan=False))
    job = st.dictionaries(st.sampled_from(JOB_KEYS), st.one_of(scalar, st.lists(scalar, max_size=2)), max_size=6)
    return st.one_of(job.map(lambda d: json.dumps(d).encode()), st.sampled_from(CSV_BODIES).map(str.encode),
                     st.binary(max_size=60), st.just(b"grant_type=password&username=x&password=y"))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_request_gets_a_500(fuzz_org, data):
    org, job_ids = fuzz_org
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    path = data.draw(_paths(job_ids))
    if path.startswith("/__admin") and method != "GET":
        method = "GET"  # changing faults would only make the rest of the run 401s
    body = data.draw(_bodies())
    headers = {"Content-Type": data.draw(st.sampled_from(["application/json", "text/csv", "multipart/form-data",
                                                          "application/x-www-form-urlencoded", "", "*/*"])),
               "Accept": data.draw(st.sampled_from(["application/json", "text/csv", "*/*", "x"]))}
    if data.draw(st.booleans()):
        headers["Authorization"] = f"Bearer {org.access_token}"
    if data.draw(st.integers(0, 4)) == 0:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body) if data.draw(st.booleans()) else body
    params = data.draw(st.dictionaries(st.sampled_from(["maxRecords", "locator", "q", "queryLocator", "jobType",
                                                        "fields", "isPkChunkingEnabled"]), TEXT, max_size=3))
    response = requests.request(method, org.instance_url + path, data=body, headers=headers, params=params,
                                verify=str(org.ca_file), timeout=30)
    assert response.status_code < 500 or response.status_code == 503, (method, path, response.text[:300])
    if response.status_code >= 400 and path.startswith("/services/data/v") and "oauth2" not in path:
        errors = response.json()
        assert isinstance(errors, list) and {"errorCode", "message"} <= set(errors[0])
