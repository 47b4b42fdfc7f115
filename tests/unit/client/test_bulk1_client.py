"""Bulk1Client request shapes and Bulk1Ingest logic that a real server cannot be made to show on cue
(failures at a chosen call, expired sessions). End-to-end behaviour is in tests/integration/client."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from migrator.client.bulk1 import (
    BatchInfo,
    Bulk1Client,
    Bulk1Ingest,
    Bulk1Job,
    aggregate_status,
    pk_chunking_header,
)
from migrator.client.bulk1_query import query_batches_done, result_batches
from migrator.client.bulk1_xml import NAMESPACE
from migrator.client.http import ApiSession
from migrator.client.ingest import IngestClient, JobRequest
from migrator.errors import AuthError, InvalidRequestError, TransientApiError
from tests.unit.client.scripted import scripted_session
from tests.unit.client.test_api_session import CountingCredentials

XML = {"Content-Type": "application/xml"}


def _job_xml(state: str = "Open", job_id: str = "750J", content_type: str = "CSV") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{NAMESPACE}"><id>{job_id}</id>'
            f"<operation>insert</operation><object>Account</object><state>{state}</state>"
            f"<concurrencyMode>Serial</concurrencyMode><contentType>{content_type}</contentType></jobInfo>")


def _batch_xml(batch_id: str, state: str = "Queued") -> str:
    return (f'<batchInfo xmlns="{NAMESPACE}"><id>{batch_id}</id><jobId>750J</jobId><state>{state}</state>'
            "</batchInfo>")


def _error(code: str, message: str) -> tuple[int, str, dict[str, str]]:
    return (400, f'<?xml version="1.0" encoding="UTF-8"?><error xmlns="{NAMESPACE}"><exceptionCode>{code}'
                 f"</exceptionCode><exceptionMessage>{message}</exceptionMessage></error>", XML)


class Script:
    """Answers by (method, path suffix); records what was sent."""

    def __init__(self, replies):
        self.replies = replies
        self.batches = 0

    def __call__(self, request):
        path = request.path_url.split("/services/async/62.0/", 1)[1]
        if request.method == "POST" and path == "job/750J/batch":
            self.batches += 1
            reply = self.replies.get(("POST", f"batch#{self.batches}"))
            return reply or (201, _batch_xml(f"751B{self.batches}"), XML)
        return self.replies[(request.method, path)]


def _client(replies) -> tuple[Bulk1Client, object]:
    session, adapter = scripted_session(Script(replies))
    return Bulk1Client(ApiSession(session, CountingCredentials())), adapter


def _children(body: bytes) -> dict[str, str]:
    return {child.tag.split("}")[1]: child.text for child in ElementTree.fromstring(body)}


def test_create_job_sends_xml_session_header_and_pk_chunking():
    client, adapter = _client({("POST", "job"): (201, _job_xml(), XML)})
    job = client.create_job("Account", "query", content_type="CSV", pk_chunking=pk_chunking_header(1000, "Account"))
    sent = adapter.sent[0]
    assert job.id == "750J" and job.concurrency_mode == "Serial"
    assert sent.url == "https://org.example/services/async/62.0/job"
    assert sent.headers["X-SFDC-Session"] == "token-1" and "Authorization" not in sent.headers
    assert sent.headers["Content-Type"] == "application/xml; charset=UTF-8"
    assert sent.headers["Sforce-Enable-PKChunking"] == "chunkSize=1000; parent=Account"
    assert _children(adapter.bodies[0]) == {"operation": "query", "object": "Account", "contentType": "CSV"}


def test_external_id_only_for_upsert_and_required_there():
    client, adapter = _client({("POST", "job"): (201, _job_xml(), XML)})
    client.create_job("Account", "insert", external_id_field="Legacy_Id__c")
    assert "externalIdFieldName" not in _children(adapter.bodies[0])
    with pytest.raises(InvalidRequestError, match="needs an external id"):
        client.create_job("Account", "upsert")
    with pytest.raises(InvalidRequestError, match="query jobs only"):
        client.create_job("Account", "insert", pk_chunking="TRUE")
    with pytest.raises(InvalidRequestError, match="operation must be one of"):
        client.create_job("Account", "INSERT")


def test_json_jobs_send_json_and_parse_json_answers():
    answer = json.dumps({"id": "750J", "operation": "insert", "object": "Account", "state": "Closed",
                         "contentType": "JSON", "concurrencyMode": "Parallel"})
    client, adapter = _client({("POST", "job"): (201, answer, {"Content-Type": "application/json"}),
                               ("POST", "job/750J"): (200, answer, {"Content-Type": "application/json"})})
    assert client.create_job("Account", "insert", content_type="JSON").is_json
    assert client.close_job("750J", as_json=True).state == "Closed"
    assert adapter.sent[1].headers["Content-Type"] == "application/json; charset=UTF-8"
    assert json.loads(adapter.bodies[1]) == {"state": "Closed"}


def test_zip_batches_use_the_zip_content_types(tmp_path: Path):
    client, adapter = _client({})
    client.add_batch("750J", b"PK\x03\x04", "ZIP_CSV")
    archive = tmp_path / "batch.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    client.add_batch("750J", archive, "ZIP_JSON")
    assert [r.headers["Content-Type"] for r in adapter.sent] == ["zip/csv", "zip/json"]
    assert adapter.bodies[1] == archive.read_bytes()
    with pytest.raises(InvalidRequestError, match="batch content type"):
        client.add_batch("750J", b"x", "zip/csv")


def test_expired_session_is_renewed_once_for_bulk1_calls():
    calls = []

    def handler(request):
        calls.append(request.headers["X-SFDC-Session"])
        if request.headers["X-SFDC-Session"] == "token-1":
            return _error("InvalidSessionId", "Invalid session id")
        return (200, _job_xml("Closed"), XML)

    session, _ = scripted_session(handler)
    client = Bulk1Client(ApiSession(session, CountingCredentials()))
    assert client.get_job("750J").state == "Closed"
    assert calls == ["token-1", "token-2"]


def test_bulk1_errors_are_mapped():
    client, _ = _client({("GET", "job/750J"): _error("InvalidJob", "Unable to find job"),
                         ("GET", "job/750J/batch"): (500, "<html>boom</html>", {"Content-Type": "text/html"})})
    with pytest.raises(InvalidRequestError) as info:
        client.get_job("750J")
    assert (info.value.error_code, info.value.api_message, info.value.status) == ("InvalidJob",
                                                                                  "Unable to find job", 400)
    with pytest.raises(TransientApiError):
        client.list_batches("750J")


def _csv(tmp_path: Path, records: int) -> Path:
    path = tmp_path / "part.csv"
    path.write_text("Name\n" + "".join(f"n{i}\n" for i in range(records)), encoding="utf-8")
    return path


def test_submit_splits_posts_closes_and_reports_creation(tmp_path):
    client, adapter = _client({("POST", "job"): (201, _job_xml(), XML),
                               ("POST", "job/750J"): (200, _job_xml("Closed"), XML)})
    ingest = Bulk1Ingest(client, max_batch_records=4)
    assert isinstance(ingest, IngestClient) and ingest.api_name == "bulk1"
    created = []
    job_id = ingest.submit(JobRequest("Account", "insert", None, _csv(tmp_path, 9), concurrency="serial"),
                           on_created=created.append)
    assert job_id == "750J" and created == ["750J"]
    assert _children(adapter.bodies[0])["concurrencyMode"] == "Serial"
    batches = adapter.bodies[1:4]
    assert [b.count(b"\n") - 1 for b in batches] == [4, 4, 1] and all(b.startswith(b"Name\n") for b in batches)
    assert [r.headers["Content-Type"] for r in adapter.sent[1:4]] == ["text/csv; charset=UTF-8"] * 3
    assert _children(adapter.bodies[4]) == {"state": "Closed"}


def test_gzip_batches_are_compressed_with_the_header(tmp_path):
    client, adapter = _client({("POST", "job"): (201, _job_xml(), XML),
                               ("POST", "job/750J"): (200, _job_xml("Closed"), XML)})
    Bulk1Ingest(client, gzip=True).submit(JobRequest("Account", "insert", None, _csv(tmp_path, 3)))
    batch = adapter.sent[1]
    assert batch.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(adapter.bodies[1]) == b"Name\nn0\nn1\nn2\n"
    assert "Content-Encoding" not in adapter.sent[2].headers


def test_submit_aborts_the_job_when_a_batch_post_fails(tmp_path):
    client, adapter = _client({("POST", "job"): (201, _job_xml(), XML),
                               ("POST", "batch#2"): _error("InvalidBatch", "too big"),
                               ("POST", "job/750J"): (200, _job_xml("Aborted"), XML)})
    ingest = Bulk1Ingest(client, max_batch_records=4)
    with pytest.raises(InvalidRequestError, match="too big"):
        ingest.submit(JobRequest("Account", "insert", None, _csv(tmp_path, 9)))
    assert _children(adapter.bodies[-1]) == {"state": "Aborted"}


def test_submit_checks_the_file_before_creating_a_job(tmp_path):
    client, adapter = _client({})
    ingest = Bulk1Ingest(client)
    bad = tmp_path / "bad.csv"
    bad.write_text('Name,Industry\nAcme,"open\n', encoding="utf-8")
    with pytest.raises(InvalidRequestError, match=r"bad\.csv, line 2: malformed CSV"):
        ingest.submit(JobRequest("Account", "insert", None, bad))
    with pytest.raises(InvalidRequestError, match="no records to load"):
        ingest.submit(JobRequest("Account", "insert", None, _csv(tmp_path, 0)))
    with pytest.raises(InvalidRequestError, match="concurrency must be parallel or serial"):
        ingest.submit(JobRequest("Account", "insert", None, _csv(tmp_path, 1), concurrency="turbo"))
    assert adapter.sent == []


def test_results_treat_a_failed_batch_without_results_as_unprocessed(tmp_path):
    batch_list = (f'<batchInfoList xmlns="{NAMESPACE}"><batchInfo><id>751A</id><jobId>750J</jobId>'
                  "<state>Completed</state><numberRecordsProcessed>2</numberRecordsProcessed></batchInfo>"
                  "<batchInfo><id>751B</id><jobId>750J</jobId><state>Failed</state><stateMessage>"
                  "InvalidBatch : Field name not found : Colour__c</stateMessage>"
                  "<numberRecordsProcessed>1</numberRecordsProcessed></batchInfo></batchInfoList>")
    client, _ = _client({
        ("GET", "job/750J"): (200, _job_xml("Closed"), XML),
        ("GET", "job/750J/batch"): (200, batch_list, XML),
        ("GET", "job/750J/batch/751A/request"): (200, "Name\na\nb\n", {"Content-Type": "text/csv"}),
        ("GET", "job/750J/batch/751A/result"): (200, '"Id","Success","Created","Error"\n"001A","true","true",""\n'
                                                     '"","false","false","X:y:--"\n', {"Content-Type": "text/csv"}),
        ("GET", "job/750J/batch/751B/request"): (200, "Name\nc\n", {"Content-Type": "text/csv"}),
        ("GET", "job/750J/batch/751B/result"): _error("InvalidBatch", "Records not processed"),
    })
    paths = Bulk1Ingest(client).results("750J", tmp_path)
    assert paths.success_csv.read_text() == '"sf__Id","sf__Created",Name\n"001A","true","a"\n'
    assert paths.failed_csv.read_text() == '"sf__Id","sf__Error",Name\n"","X:y:--","b"\n'
    assert paths.unprocessed_csv.read_text() == 'Name\n"c"\n'


def test_results_refuse_non_csv_jobs(tmp_path):
    client, _ = _client({("GET", "job/750J"): (200, _job_xml("Closed", content_type="XML"), XML)})
    with pytest.raises(InvalidRequestError, match="only CSV jobs"):
        Bulk1Ingest(client).results("750J", tmp_path)


def test_delete_is_a_no_op_without_any_call():
    client, adapter = _client({})
    Bulk1Ingest(client).delete("750J")
    assert adapter.sent == []


# --- pure status aggregation and query batch selection --------------------------------------------


def _job(state: str) -> Bulk1Job:
    return Bulk1Job("750J", "insert", "Account", state, content_type="CSV")


def _batch(batch_id: str, state: str, processed: int = 0, failed: int = 0, message: str | None = None):
    return BatchInfo(batch_id, "750J", state, message, number_records_processed=processed,
                     number_records_failed=failed)


@pytest.mark.parametrize(("job_state", "batch_states", "expected"), [
    ("Open", ["Completed"], ("Open", False, False)),
    ("Closed", ["Completed", "InProgress"], ("InProgress", False, False)),
    ("Closed", ["Completed", "Queued"], ("InProgress", False, False)),
    ("Closed", ["Completed", "Completed"], ("JobComplete", True, False)),
    ("Closed", ["Completed", "Failed"], ("Failed", True, True)),
    ("Closed", ["Failed", "InProgress"], ("InProgress", False, True)),
    ("Aborted", ["Completed", "NotProcessed", "Queued"], ("Aborted", True, True)),
    ("Aborted", ["InProgress", "NotProcessed"], ("Aborted", False, True)),
    ("Failed", [], ("Failed", True, True)),
])
def test_aggregate_status(job_state, batch_states, expected):
    batches = [_batch(f"751{n}", state) for n, state in enumerate(batch_states)]
    status = aggregate_status(_job(job_state), batches)
    assert (status.state, status.terminal, status.failed) == expected


def test_aggregate_status_sums_counts_and_joins_distinct_failure_messages():
    message = "InvalidBatch : Field name not found : Colour__c"
    status = aggregate_status(_job("Closed"), [_batch("751A", "Completed", 10000, 7),
                                               _batch("751B", "Failed", 0, 0, message),
                                               _batch("751C", "Failed", 2, 2, message),
                                               _batch("751D", "Failed", 0, 0, "InternalServerError : boom")])
    assert (status.records_processed, status.records_failed) == (10002, 9)
    assert status.error_message == f"{message}; InternalServerError : boom"


def test_query_batches_done_waits_for_chunks():
    batches = [_batch("751O", "NotProcessed"), _batch("751C1", "Completed"), _batch("751C2", "InProgress")]
    assert not query_batches_done(batches, "751O", chunked=True)
    assert not query_batches_done([_batch("751O", "Queued")], "751O", chunked=True)
    batches[2] = _batch("751C2", "Completed")
    assert query_batches_done(batches, "751O", chunked=True)
    assert [b.id for b in result_batches(batches, "751O", True, "750J")] == ["751C1", "751C2"]
    assert query_batches_done([_batch("751O", "Completed"), _batch("751X", "Queued")], "751O", chunked=False)


def test_failed_query_batch_raises_with_its_message():
    batches = [_batch("751O", "NotProcessed"), _batch("751C1", "Failed", message="Timeout : query took too long")]
    with pytest.raises(TransientApiError, match="Timeout : query took too long") as info:
        result_batches(batches, "751O", True, "750J")
    assert info.value.error_code == "Timeout"
    with pytest.raises(InvalidRequestError, match="not processed"):
        result_batches([_batch("751O", "NotProcessed")], "751O", False, "750J")


def test_pk_chunking_header_values():
    assert pk_chunking_header() == "TRUE"
    assert pk_chunking_header(250_000, start_row="001x0000000001") == "chunkSize=250000; startRow=001x0000000001"
    with pytest.raises(InvalidRequestError, match="chunk size"):
        pk_chunking_header(250_001)


def test_auth_errors_propagate_from_submit_without_abort_loops(tmp_path):
    client, adapter = _client({("POST", "job"): (403, '[{"errorCode":"API_DISABLED_FOR_ORG","message":"no"}]',
                                                 {"Content-Type": "application/json"})})
    with pytest.raises(AuthError):
        Bulk1Ingest(client).submit(JobRequest("Account", "insert", None, _csv(tmp_path, 1)))
    assert len(adapter.sent) == 1
