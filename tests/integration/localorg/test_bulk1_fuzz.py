"""Fuzzing Bulk API 1.0 on the live server with hypothesis: random paths, methods, headers and bodies.

The draws are derandomized (a fixed seed, no example database), so every run sends the same requests
and the counts the second test asserts cannot drift from run to run. Whatever arrives, the answer is
never a 500, every response has one of the exact Bulk 1.0 content types, and every error is a Bulk
1.0 error (``<error>`` with exceptionCode and exceptionMessage, or the JSON object) in the format its
Content-Type says. The org is this module's own.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.localorg.server import LocalOrgServer

from .bulk1_support import BODY_TYPES, NS, Bulk1, job_xml, session_for

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
JOB_KEYS = ("operation", "object", "externalIdFieldName", "concurrencyMode", "contentType", "state",
            "assignmentRuleId", "id", "colour")
VALUES = ("insert", "upsert", "update", "delete", "hardDelete", "query", "queryAll", "Account", "Contact", "Attachment",
          "Legacy_Id__c", "Id", "CSV", "XML", "JSON", "ZIP_CSV", "ZIP_JSON", "Parallel", "Serial", "Closed", "Aborted",
          "Open", 0, 1, 2, None, True, 1.5, "")
BATCHES = (b"Name\nFuzz\n", b"Name,Legacy_Id__c\nA,F-1\nB,F-1\n", b"Name,Bogus__c\n1,2\n", b"Id\n001000000000000AAA\n",
           b'[{"Name": "Fuzz"}]', b'{"Name": "not an array"}', b'[{"Name": {"nested": {"too": "deep"}}}]',
           b'<sObjects xmlns="' + NS.encode() + b'"><sObject><Name>x</Name></sObject></sObjects>',
           b"<sObjects><sObject><Name>unclosed", b'<!DOCTYPE x [<!ENTITY a "b">]><sObjects/>',
           b"SELECT Id FROM Account", b"SELECT Nope FROM Account", b"SELECT Id FROM Contact", b"", b"\xff\xfe\x00")
CONTENT_TYPES = ("application/xml", "application/xml; charset=UTF-8", "application/json", "text/csv", "text/xml",
                 "zip/csv", "zip/json", "application/zip", "text/plain", "", "multipart/form-data")
EXACT_TYPES = {"application/xml", "application/json", "text/csv", "zip/csv", "zip/xml", "zip/json"}


def _zip(request: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("request.txt", request)
        z.writestr("a.bin", b"\x00\x01")
    return archive.getvalue()


@dataclass
class FuzzOrg:
    org: LocalOrgServer
    job_ids: list[str]  # jobs the random requests may close or abort
    batch_ids: list[str]
    targets: list[tuple[str, str, bytes]]  # (job id, Content-Type, a valid body): jobs that get only batches


def _jobs(bulk: Bulk1) -> list[dict]:
    return [bulk.create("insert", "Account"), bulk.create("insert", "Account", "JSON"),
            bulk.create("query", "Account", headers={"Sforce-Enable-PKChunking": "chunkSize=2"}),
            bulk.create("insert", "Attachment", "ZIP_CSV"),
            bulk.create("upsert", "Contact", "XML", externalIdFieldName="Legacy_Id__c"),
            bulk.create("upsert", "Account", "ZIP_JSON", externalIdFieldName="Legacy_Id__c")]


@pytest.fixture(scope="module")
def fuzz_org(tmp_path_factory, legacy_schema_file) -> Iterator[FuzzOrg]:
    folder = tmp_path_factory.mktemp("fuzz1")
    with LocalOrgServer(folder / "org.db", schema_files=[legacy_schema_file]) as org:
        bulk = Bulk1(org, session_for(org))
        jobs = _jobs(bulk)
        batches = [bulk.add(jobs[0], "Name\nSeed\n")["id"], bulk.add(jobs[2], "SELECT Id FROM Account")["id"]]
        valid = [b"Name\nFuzz\n", b'[{"Name": "Fuzz"}]', b"SELECT Id, Name FROM Account",
                 _zip(b"Name,ParentId,Body\nx.bin,%s,#a.bin\n" % bulk.csv_results(jobs[0], bulk.wait(
                     jobs[0], {"id": batches[0]}))[0]["Id"].encode()),
                 b'<sObjects xmlns="%s"><sObject><LastName>F</LastName><Legacy_Id__c>F1</Legacy_Id__c></sObject>'
                 b"</sObjects>" % NS.encode(), _zip(b'[{"Name": "Z", "Legacy_Id__c": "Z1"}]')]
        targets = [(job["id"], BODY_TYPES[job["contentType"]], body) for job, body in zip(_jobs(bulk), valid,
                                                                                           strict=True)]
        yield FuzzOrg(org, [j["id"] for j in jobs], batches, targets)


def _paths(job_ids: list[str], batch_ids: list[str]) -> st.SearchStrategy[str]:
    version = st.sampled_from(["62.0", "40.0", "20.0", "99.0", "v62.0", "x", ""])
    job = st.sampled_from([*job_ids, *(j[:15] for j in job_ids), "750000000000000AAA", "nope", ""])
    batch = st.sampled_from([*batch_ids, "751000000000000AAA", "752000000000000AAA", "x"])
    tail = st.one_of(st.just(""), st.just("/batch"), st.builds(lambda b: f"/batch/{b}", batch),
                     st.builds(lambda b, k: f"/batch/{b}/{k}", batch, st.sampled_from(["request", "result", "x"])),
                     st.builds(lambda b, r: f"/batch/{b}/result/{r}", batch, batch), st.just("/spec"))
    jobs = st.builds(lambda v, j, t: f"/services/async/{v}/job/{j}{t}", version, job, tail)
    other = st.builds(lambda v, s: f"/services/async/{v}/{s}", version, TEXT)
    return st.one_of(jobs, jobs, other, st.builds(lambda v: f"/services/async/{v}/job", version))


def _bodies() -> st.SearchStrategy[bytes]:
    fields = st.dictionaries(st.sampled_from(JOB_KEYS), st.one_of(st.sampled_from(VALUES), TEXT), max_size=5)
    as_xml = fields.map(lambda d: job_xml(**{k: "" if v is None else str(v) for k, v in d.items()}).encode())
    return st.one_of(fields.map(lambda d: json.dumps(d).encode()), as_xml, st.sampled_from(BATCHES),
                     st.sampled_from(BATCHES).map(_zip), st.binary(max_size=60), TEXT.map(str.encode))


def _is_bulk1_error(response: requests.Response) -> bool:
    if response.headers["Content-Type"] == "application/json":
        body = response.json()
        return isinstance(body, dict) and set(body) == {"exceptionCode", "exceptionMessage"}
    root = ElementTree.fromstring(response.content)
    return root.tag == f"{{{NS}}}error" and [c.tag.split("}")[1] for c in root] == ["exceptionCode",
                                                                                    "exceptionMessage"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_bulk1_request_gets_a_500(fuzz_org, data):
    org = fuzz_org.org
    if data.draw(st.booleans()):  # a well-formed batch post with a fuzzed payload
        job_id, content_type, valid = data.draw(st.sampled_from(fuzz_org.targets))
        method, path = "POST", f"/services/async/62.0/job/{job_id}/batch"
        body = data.draw(st.one_of(st.just(valid), st.sampled_from(BATCHES), st.sampled_from(BATCHES).map(_zip),
                                   _bodies()))
        headers = {"Content-Type": content_type}
        session = "valid"
    else:
        method = data.draw(st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE"]))
        path = data.draw(_paths(fuzz_org.job_ids, fuzz_org.batch_ids))
        body = data.draw(_bodies())
        headers = {"Content-Type": data.draw(st.sampled_from(CONTENT_TYPES))}
        session = data.draw(st.sampled_from(["valid", "valid", "valid", "wrong", "absent"]))
    if session != "absent":
        headers["X-SFDC-Session"] = org.access_token if session == "valid" else "00Dx!nope"
    if data.draw(st.integers(0, 3)) == 0:
        headers["Sforce-Enable-PKChunking"] = data.draw(st.sampled_from(
            ["true", "FALSE", "chunkSize=1;", "chunksize = 3 ; parent=Account", "startRow=x", "chunkSize=0", "x"]))
    if data.draw(st.integers(0, 4)) == 0:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body) if data.draw(st.booleans()) else body
    response = requests.request(method, org.instance_url + path, data=body, headers=headers,
                                verify=str(org.ca_file), timeout=30)
    assert response.status_code < 500 or response.status_code == 503, (method, path, response.text[:300])
    assert response.headers["Content-Type"] in EXACT_TYPES, (path, response.headers["Content-Type"])
    if response.status_code >= 400:
        assert _is_bulk1_error(response), (method, path, response.text[:300])
    if 200 <= response.status_code < 300:
        assert session == "valid"


def test_no_fuzzed_batch_failed_with_an_internal_error(fuzz_org):
    """Runs after the fuzzer (same module org): bad payloads fail their batch with a reason, never a crash."""
    store = fuzz_org.org.org.bulk1.batches.store
    deadline = time.monotonic() + 30
    while store.conn().execute("SELECT count(*) FROM _bulk1_batches WHERE state IN ('Queued', 'InProgress')"
                               ).fetchone()[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    states = dict(store.conn().execute("SELECT state, count(*) FROM _bulk1_batches GROUP BY state").fetchall())
    assert states.get("Failed", 0) > 10 and states.get("Completed", 0) > 10, states  # the fuzzer reached both
    crashed = store.conn().execute("SELECT state_message FROM _bulk1_batches WHERE state_message LIKE "
                                   "'InternalServerError%'").fetchall()
    assert crashed == []
