"""Bulk API 1.0 for the executor: `Bulk1Ingest`, over the raw endpoints of `Bulk1Client`.

Why 1.0 at all: it is the only bulk API with a serial concurrency mode (one batch at a time, for
objects whose parents lock under parallel load), with PK-chunked queries, and with binary
attachment (zip) batches. `Bulk1Ingest` hides the batches: the executor sees one CSV part per job,
exactly as with Bulk 2.0, and gets its result files in the Bulk 2.0 layout, so retries, result
parsing and counts are written once.

This module is also the package's front door for Bulk 1.0: it re-exports the raw client and the
query helpers, so callers import one name.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

from migrator.client.bulk1_batches import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    plan_csv_batches,
    plan_zip_batches,
    zip_batch,
    zip_request,
)
from migrator.client.bulk1_client import Bulk1Client
from migrator.client.bulk1_query import pk_chunked_query, pk_chunking_header, query, wait_for_batches
from migrator.client.bulk1_results import (
    BatchResults,
    Bulk2LayoutWriter,
    parse_request_csv,
    split_batch,
)
from migrator.client.bulk1_xml import (
    BatchInfo,
    Bulk1Job,
)
from migrator.client.ingest import JobRequest, JobResults, JobStatus, result_paths
from migrator.errors import BulkApiError, InvalidRequestError, NotFoundError

__all__ = ["BatchInfo", "Bulk1Client", "Bulk1Ingest", "Bulk1Job", "aggregate_status", "pk_chunked_query",
           "pk_chunking_header", "query", "wait_for_batches", "zip_batch"]

log = logging.getLogger("migrator.client")

CONCURRENCY_MODES = {"parallel": "Parallel", "serial": "Serial"}


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
                     failed=job.state in ("Aborted", "Failed") or bool(failed_batches),
                     processing_ms=job.total_processing_time)


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
        if request.files_dir is not None and request.binary_fields:
            return self._submit_zip(request, mode, on_created)
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

    def _submit_zip(self, request: JobRequest, mode: str, on_created: Callable[[str], None] | None) -> str:
        """A ZIP_CSV job: each batch a zip of request.txt and the files its rows name (`#path`)."""
        assert request.files_dir is not None
        header, batches = plan_zip_batches(request.csv_path, request.binary_fields, request.files_dir)
        if not batches:
            raise InvalidRequestError(f"{request.csv_path} has no records to load")
        job = self.client.create_job(request.object, request.operation, external_id_field=request.external_id,
                                     concurrency_mode=mode, content_type="ZIP_CSV")
        try:
            if on_created is not None:
                on_created(job.id)
            for number, batch in enumerate(batches, start=1):
                posted = self.client.add_batch(job.id, zip_request(header, batch), "ZIP_CSV")
                log.debug("job %s: zip batch %d/%d (%d files, %d bytes, %s) queued", job.id, number, len(batches),
                          len(batch.files), batch.bytes, posted.id)
            self.client.close_job(job.id)
        except BaseException:
            self._abort_quietly(job.id)
            raise
        return job.id

    def status(self, job_id: str) -> JobStatus:
        return aggregate_status(self.client.get_job(job_id), self.client.list_batches(job_id))

    def results(self, job_id: str, dest_dir: Path, status: JobStatus | None = None) -> JobResults:
        """Pair each batch's request rows with its results by position and write the three files.

        A job without batches has empty result files (no row was loaded; see below)."""
        job = self.client.get_job(job_id)
        if job.content_type not in ("CSV", "ZIP_CSV"):
            raise InvalidRequestError(f"job {job_id} is a {job.content_type} job; only CSV jobs have results "
                                      "in the Bulk 2.0 layout")
        batches = self.client.list_batches(job_id)
        paths = result_paths(job_id, dest_dir)
        writer = Bulk2LayoutWriter(paths.success_csv, paths.failed_csv, paths.unprocessed_csv)
        if not batches:
            # Created, then the first upload failed or the client died: nothing was loaded. Abort
            # a job still open so no batch can reach it later; empty result files leave every
            # row unanswered, which the executor sends again.
            if job.state == "Open":
                self._abort_quietly(job_id)
            writer.close()
            return paths
        try:
            for batch in batches:
                posted = self.client.batch_request(job_id, batch.id)
                if job.content_type == "ZIP_CSV":  # the zip as posted: its rows are its request.txt
                    posted = zipfile.ZipFile(io.BytesIO(posted)).read("request.txt")
                request = parse_request_csv(posted)
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
