"""Bulk API 1.0: the raw endpoints (`Bulk1Client`) and the executor-facing `Bulk1Ingest`.

Why 1.0 at all: it is the only bulk API with a serial concurrency mode (one batch at a time, for
objects whose parents lock under parallel load), with PK-chunked queries, and with binary
attachment (zip) batches. `Bulk1Ingest` hides the batches: the executor sees one CSV part per job,
exactly as with Bulk 2.0, and gets its result files in the Bulk 2.0 layout, so retries, result
parsing and counts are written once.

Calls go to ``/services/async/XX.X/...`` with the token in ``X-SFDC-Session``; answers are parsed
by their Content-Type (XML for XML/CSV jobs, JSON for JSON jobs). Errors (HTTP 400 ``<error>`` or
``{exceptionCode, exceptionMessage}``) are mapped by `ApiSession`, which also re-authenticates on
``InvalidSessionId``.
"""

from __future__ import annotations

import gzip as gzip_module
import logging
from collections.abc import Callable
from pathlib import Path

import requests

from migrator.client.bulk1_batches import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, plan_csv_batches, zip_batch
from migrator.client.bulk1_query import pk_chunked_query, pk_chunking_header, query, wait_for_batches
from migrator.client.bulk1_results import (
    BatchResults,
    Bulk2LayoutWriter,
    parse_batch_results,
    parse_request_csv,
    split_batch,
)
from migrator.client.bulk1_xml import (
    BatchInfo,
    Bulk1Job,
    create_job_document,
    parse_batch,
    parse_batch_list,
    parse_job,
    parse_result_list,
    state_document,
)
from migrator.client.http import ApiSession
from migrator.client.ingest import JobRequest, JobResults, JobStatus, result_paths
from migrator.errors import BulkApiError, InvalidRequestError, NotFoundError

__all__ = ["BatchInfo", "Bulk1Client", "Bulk1Ingest", "Bulk1Job", "aggregate_status", "pk_chunked_query",
           "pk_chunking_header", "query", "wait_for_batches", "zip_batch"]

log = logging.getLogger("migrator.client")

INGEST_OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
QUERY_OPERATIONS = frozenset({"query", "queryAll"})
BATCH_CONTENT_TYPES = {"CSV": "text/csv; charset=UTF-8", "XML": "application/xml; charset=UTF-8",
                       "JSON": "application/json; charset=UTF-8", "ZIP_CSV": "zip/csv", "ZIP_XML": "zip/xml",
                       "ZIP_JSON": "zip/json"}
XML_BODY = "application/xml; charset=UTF-8"
JSON_BODY = "application/json; charset=UTF-8"
CONCURRENCY_MODES = {"parallel": "Parallel", "serial": "Serial"}
CHUNK_BYTES = 1 << 20


class Bulk1Client:
    """Raw Bulk API 1.0 calls, one method per resource (§6.1)."""

    def __init__(self, api: ApiSession):
        self.api = api

    # --- jobs ---------------------------------------------------------------------------------

    def create_job(self, object: str, operation: str, *, external_id_field: str | None = None,
                   concurrency_mode: str | None = None, content_type: str = "CSV",
                   assignment_rule_id: str | None = None, pk_chunking: str | None = None,
                   line_ending: str | None = None) -> Bulk1Job:
        """Open a job. `pk_chunking` is a ``Sforce-Enable-PKChunking`` value (see `pk_chunking_header`);
        `line_ending` (``LF``/``CRLF``) sets ``Sforce-Line-Ending`` (line breaks inside text areas)."""
        if operation not in INGEST_OPERATIONS | QUERY_OPERATIONS:
            raise InvalidRequestError(f"operation must be one of "
                                      f"{', '.join(sorted(INGEST_OPERATIONS | QUERY_OPERATIONS))}, not {operation!r}")
        if operation == "upsert" and not external_id_field:
            raise InvalidRequestError(f"upsert of {object} needs an external id field")
        if pk_chunking and operation not in QUERY_OPERATIONS:
            raise InvalidRequestError("PK chunking applies to query jobs only")
        body = create_job_document(object, operation, content_type=content_type, concurrency_mode=concurrency_mode,
                                   external_id_field=external_id_field if operation == "upsert" else None,
                                   assignment_rule_id=assignment_rule_id)
        headers = {"Content-Type": JSON_BODY if content_type in ("JSON", "ZIP_JSON") else XML_BODY}
        if pk_chunking:
            headers["Sforce-Enable-PKChunking"] = pk_chunking
        if line_ending:
            headers["Sforce-Line-Ending"] = line_ending
        with self._call("POST", "job", headers=headers, data=body) as response:
            return parse_job(response.content, _content_type(response))

    def get_job(self, job_id: str) -> Bulk1Job:
        with self._call("GET", f"job/{job_id}", job_id=job_id) as response:
            return parse_job(response.content, _content_type(response))

    def close_job(self, job_id: str, *, as_json: bool = False) -> Bulk1Job:
        """No more batches. Batches already queued run on either way (1.0 processes them on arrival)."""
        return self._set_state(job_id, "Closed", as_json)

    def abort_job(self, job_id: str, *, as_json: bool = False) -> Bulk1Job:
        """Queued batches become NotProcessed; a batch already in progress still finishes."""
        return self._set_state(job_id, "Aborted", as_json)

    # --- batches ------------------------------------------------------------------------------

    def add_batch(self, job_id: str, data: bytes | Path, content_type: str = "CSV", *,
                  gzip: bool = False) -> BatchInfo:
        """Post one batch: CSV/XML/JSON records, or a zip (ZIP_CSV/ZIP_XML/ZIP_JSON, see `zip_batch`).
        A Path is streamed from disk; `gzip` compresses a bytes body (``Content-Encoding: gzip``)."""
        if content_type not in BATCH_CONTENT_TYPES:
            raise InvalidRequestError(f"batch content type must be one of {', '.join(BATCH_CONTENT_TYPES)}, "
                                      f"not {content_type!r}")
        headers = {"Content-Type": BATCH_CONTENT_TYPES[content_type]}
        if gzip:
            if isinstance(data, Path):
                data = data.read_bytes()
            data = gzip_module.compress(data, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if isinstance(data, Path):
            with data.open("rb") as source, self._call("POST", f"job/{job_id}/batch", job_id=job_id,
                                                       headers=headers, data=source) as response:
                return parse_batch(response.content, _content_type(response))
        with self._call("POST", f"job/{job_id}/batch", job_id=job_id, headers=headers, data=data) as response:
            return parse_batch(response.content, _content_type(response))

    def add_query_batch(self, job_id: str, soql: str, content_type: str = "CSV") -> BatchInfo:
        """The SOQL as the batch body, under the job's content type (as every client sends it)."""
        return self.add_batch(job_id, soql.encode("utf-8"), content_type)

    def get_batch(self, job_id: str, batch_id: str) -> BatchInfo:
        with self._call("GET", f"job/{job_id}/batch/{batch_id}", job_id=job_id) as response:
            return parse_batch(response.content, _content_type(response))

    def list_batches(self, job_id: str) -> list[BatchInfo]:
        with self._call("GET", f"job/{job_id}/batch", job_id=job_id) as response:
            return parse_batch_list(response.content, _content_type(response))

    def batch_request(self, job_id: str, batch_id: str) -> bytes:
        """The batch as it was posted (query batches: the SOQL, PK chunks with their Id range)."""
        with self._call("GET", f"job/{job_id}/batch/{batch_id}/request", job_id=job_id) as response:
            return response.content

    def batch_result_raw(self, job_id: str, batch_id: str) -> tuple[bytes, str]:
        """(body, Content-Type) of a batch result: per-row results, or a query's result-id list."""
        with self._call("GET", f"job/{job_id}/batch/{batch_id}/result", job_id=job_id) as response:
            return response.content, _content_type(response)

    def batch_result(self, job_id: str, batch_id: str) -> BatchResults:
        """Per-row results of an ingest batch, in request order, whatever the job's format."""
        return parse_batch_results(*self.batch_result_raw(job_id, batch_id))

    def query_result_ids(self, job_id: str, batch_id: str) -> list[str]:
        return parse_result_list(*self.batch_result_raw(job_id, batch_id))

    def open_query_result(self, job_id: str, batch_id: str, result_id: str) -> requests.Response:
        """A streamed result set (close it, or use it as a context manager)."""
        return self._call("GET", f"job/{job_id}/batch/{batch_id}/result/{result_id}", job_id=job_id, stream=True)

    def download_query_result(self, job_id: str, batch_id: str, result_id: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open_query_result(job_id, batch_id, result_id) as response, dest.open("wb") as out:
            for chunk in response.iter_content(CHUNK_BYTES):
                out.write(chunk)
        return dest

    # --- internals ----------------------------------------------------------------------------

    def _set_state(self, job_id: str, state: str, as_json: bool) -> Bulk1Job:
        headers = {"Content-Type": JSON_BODY if as_json else XML_BODY}
        with self._call("POST", f"job/{job_id}", job_id=job_id, headers=headers,
                        data=state_document(state, as_json=as_json)) as response:
            return parse_job(response.content, _content_type(response))

    def _call(self, method: str, path: str, *, job_id: str | None = None, headers: dict[str, str] | None = None,
              data: object = None, stream: bool = False) -> requests.Response:
        # Accept is not how Bulk 1.0 picks a format (the job's contentType is); answers are parsed by
        # their own Content-Type, so accept anything rather than ApiSession's JSON default.
        return self.api.request(method, f"{self.api.async_path}/{path}", job_id=job_id,
                                headers={"Accept": "*/*", **(headers or {})}, data=data, stream=stream,
                                session_header=True)


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "")


# --- the executor-facing client -------------------------------------------------------------------


def aggregate_status(job: Bulk1Job, batches: list[BatchInfo]) -> JobStatus:
    """One `JobStatus` for a job and its batches, in Bulk 2.0 vocabulary (which the executor speaks).

    ``Open``: not closed yet (an interrupted submit; the executor aborts it and sends the rows
    again). ``InProgress``: closed, batches still queued or running. ``JobComplete``: every batch
    Completed. ``Failed``: the job, or at least one batch, failed (its rows are in the unprocessed
    file). ``Aborted``: aborted; terminal once no batch is still running (queued ones never will).
    """
    states = [batch.state for batch in batches]
    running = "InProgress" in states
    pending = running or "Queued" in states
    failed_batches = [batch for batch in batches if batch.state == "Failed"]
    messages = list(dict.fromkeys(batch.state_message for batch in failed_batches if batch.state_message))
    processed = sum(batch.number_records_processed for batch in batches)
    failed_records = sum(batch.number_records_failed for batch in batches)
    if job.state in ("Aborted", "Failed"):
        state, terminal = job.state, not running
    elif job.state == "Open":
        state, terminal = "Open", False
    elif pending:
        state, terminal = "InProgress", False
    else:
        state, terminal = ("Failed" if failed_batches else "JobComplete"), True
    return JobStatus(job_id=job.id, state=state, records_processed=processed, records_failed=failed_records,
                     error_message="; ".join(messages) or None, terminal=terminal,
                     failed=job.state in ("Aborted", "Failed") or bool(failed_batches))


class Bulk1Ingest:
    """`IngestClient` over Bulk API 1.0: CSV jobs, parallel or serial, split into batches of at most
    10,000 records / 10 MB; results in the Bulk 2.0 layout."""

    api_name = "bulk1"

    def __init__(self, client: Bulk1Client, *, gzip: bool = False, max_batch_records: int = MAX_BATCH_RECORDS,
                 max_batch_bytes: int = MAX_BATCH_BYTES):
        self.client = client
        self.gzip = gzip
        self.max_batch_records = max_batch_records
        self.max_batch_bytes = max_batch_bytes

    def submit(self, request: JobRequest, on_created: Callable[[str], None] | None = None) -> str:
        """Plan the batches (the whole file is checked before any job exists), create the job, post
        every batch, close it. If anything fails after creation the job is aborted and the error
        re-raised. Batches already posted may have run by then: Bulk 1.0 processes a batch on
        arrival, unlike 2.0, which waits for the close."""
        mode = CONCURRENCY_MODES.get(request.concurrency.lower())
        if mode is None:
            raise InvalidRequestError(f"concurrency must be parallel or serial, not {request.concurrency!r}")
        plan = plan_csv_batches(request.csv_path, max_records=self.max_batch_records,
                                max_bytes=self.max_batch_bytes)
        if not plan.batches:
            raise InvalidRequestError(f"{request.csv_path} has no records to load "
                                      "(Bulk API 1.0 does not accept empty batches)")
        job = self.client.create_job(request.object, request.operation, external_id_field=request.external_id,
                                     concurrency_mode=mode, content_type="CSV")
        try:
            if on_created is not None:
                on_created(job.id)
            for number, body in enumerate(plan.bodies(), start=1):
                batch = self.client.add_batch(job.id, body, "CSV", gzip=self.gzip)
                log.debug("job %s: batch %d/%d (%s) queued", job.id, number, len(plan.batches), batch.id)
            self.client.close_job(job.id)
        except BaseException:
            self._abort_quietly(job.id)
            raise
        return job.id

    def status(self, job_id: str) -> JobStatus:
        return aggregate_status(self.client.get_job(job_id), self.client.list_batches(job_id))

    def results(self, job_id: str, dest_dir: Path) -> JobResults:
        """Pair each batch's request rows with its results by position and write the three files."""
        job = self.client.get_job(job_id)
        if job.content_type != "CSV":
            raise InvalidRequestError(f"job {job_id} is a {job.content_type} job; only CSV jobs have results "
                                      "in the Bulk 2.0 layout")
        batches = self.client.list_batches(job_id)
        if not batches:
            raise InvalidRequestError(f"job {job_id} has no batches, so no rows to report on")
        paths = result_paths(job_id, dest_dir)
        writer = Bulk2LayoutWriter(paths.success_csv, paths.failed_csv, paths.unprocessed_csv)
        try:
            for batch in batches:
                request = parse_request_csv(self.client.batch_request(job_id, batch.id))
                writer.add(split_batch(request, self._batch_results(job_id, batch)))
        except BaseException:
            writer.discard()
            raise
        writer.close()
        return paths

    def abort(self, job_id: str) -> None:
        self.client.abort_job(job_id)

    def delete(self, job_id: str) -> None:
        """Nothing to do: Bulk API 1.0 has no delete. Salesforce removes 1.0 jobs and their batches
        by itself (7 days after they close), so there is nothing to clean up."""

    def _batch_results(self, job_id: str, batch: BatchInfo) -> BatchResults | None:
        """Results of a batch that ran; None when it never did (its rows are all unprocessed). A Failed
        batch may still have processed some rows (then it has results for those)."""
        if batch.state == "Completed":
            return self.client.batch_result(job_id, batch.id)
        if batch.state == "Failed" and batch.number_records_processed > 0:
            try:
                return self.client.batch_result(job_id, batch.id)
            except (InvalidRequestError, NotFoundError) as exc:  # "InvalidBatch : Records not processed"
                log.info("job %s batch %s failed without results: %s", job_id, batch.id, exc)
        return None

    def _abort_quietly(self, job_id: str) -> None:
        try:
            self.client.abort_job(job_id)
        except BulkApiError as exc:
            log.warning("could not abort job %s after a failed upload: %s", job_id, exc)
