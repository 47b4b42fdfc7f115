"""What the executor needs from a bulk API, and the Bulk API 2.0 implementation of it.

The executor loads one CSV part per job: submit it, watch its status, fetch its three result files,
abort or delete it. Both Bulk API 2.0 and 1.0 fit that shape, so the executor is written once
against `IngestClient`; every implementation hands back result files in the Bulk 2.0 layout
(``sf__Id,sf__Created,...`` / ``sf__Id,sf__Error,...`` / original columns) so result parsing is
written once too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from migrator.client.bulk2 import FAILED_STATES, Bulk2Client, JobInfo
from migrator.client.polling import poll_until
from migrator.errors import BulkApiError, InvalidRequestError, LimitExceededError

log = logging.getLogger("migrator.client")

# Salesforce accepts 150 MB per job after its own base64 encoding: about 112 MB of raw CSV.
MAX_UPLOAD_BYTES = 150 * 1024 * 1024 * 3 // 4


@dataclass(frozen=True)
class JobRequest:
    """One CSV part to load. `concurrency` ("parallel" | "serial") only matters to Bulk API 1.0."""

    object: str
    operation: str
    external_id: str | None
    csv_path: Path
    concurrency: str = "parallel"
    line_ending: str = "LF"
    files_dir: Path | None = None  # binary fields' `#path` references are files of this folder
    binary_fields: tuple[str, ...] = ()  # columns holding `#path` references (Bulk 1.0 ZIP batches, REST)


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands. `failed` means the job as a whole Failed or was Aborted."""

    job_id: str
    state: str
    records_processed: int
    records_failed: int
    error_message: str | None
    terminal: bool
    failed: bool
    processing_ms: int = 0  # the server's totalProcessingTime, once the job is done (0: not reported)


@dataclass(frozen=True)
class JobResults:
    """The three result files of a finished job, always in Bulk API 2.0 layout."""

    success_csv: Path
    failed_csv: Path
    unprocessed_csv: Path


@runtime_checkable
class IngestClient(Protocol):
    """The executor-facing bulk API: one CSV part per job."""

    api_name: str  # "bulk2" | "bulk1"

    def submit(self, request: JobRequest, on_created: Callable[[str], None] | None = None) -> str:
        """Create the job, upload the CSV and close it; return the job id.

        `on_created(job_id)` runs right after the job exists and before the upload, so a caller can
        checkpoint the id: after a crash it finds (and aborts or re-attaches to) the job.
        """
        ...

    def status(self, job_id: str) -> JobStatus: ...

    def results(self, job_id: str, dest_dir: Path, status: JobStatus | None = None) -> JobResults:
        """Download the success, failure and unprocessed CSVs into `dest_dir`.

        `status`, the job's final status, lets a client skip files it says are empty (saving calls)."""
        ...

    def abort(self, job_id: str) -> None: ...

    def delete(self, job_id: str) -> None: ...


def result_paths(job_id: str, dest_dir: Path) -> JobResults:
    """Where a job's result files go: ``<job>-success.csv``, ``-failed.csv``, ``-unprocessed.csv``."""
    return JobResults(dest_dir / f"{job_id}-success.csv", dest_dir / f"{job_id}-failed.csv",
                      dest_dir / f"{job_id}-unprocessed.csv")


def _empty(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def wait_for_status(client: IngestClient, job_id: str, *, clock: Callable[[], float],
                    sleep: Callable[[float], None], timeout: float | None, poll_initial: float = 0.5,
                    poll_max: float = 10.0, on_poll: Callable[[JobStatus], None] | None = None,
                    first_wait: float = 0.0,
                    next_delay: Callable[[JobStatus, float], float] | None = None) -> JobStatus:
    """Poll any IngestClient until the job is terminal (see `poll_until` for the timeout error)."""
    return poll_until(lambda: client.status(job_id), lambda status: status.terminal, clock=clock,
                      sleep=sleep, timeout=timeout, poll_initial=poll_initial, poll_max=poll_max,
                      on_poll=on_poll, job_id=job_id, first_wait=first_wait, next_delay=next_delay)


def status_from_job_info(info: JobInfo) -> JobStatus:
    return JobStatus(job_id=info.id, state=info.state, records_processed=info.number_records_processed,
                     records_failed=info.number_records_failed, error_message=info.error_message,
                     terminal=info.is_terminal, failed=info.state in FAILED_STATES,
                     processing_ms=info.total_processing_time)


class Bulk2Ingest:
    """`IngestClient` over Bulk API 2.0. Jobs always run in parallel mode (2.0 has no serial mode)."""

    api_name = "bulk2"

    def __init__(self, client: Bulk2Client, *, gzip: bool = False, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.client = client
        self.gzip = gzip
        self.max_upload_bytes = max_upload_bytes

    def submit(self, request: JobRequest, on_created: Callable[[str], None] | None = None) -> str:
        """Create, upload, close. If the upload or close fails the job is aborted (so no half-loaded
        job lingers in the org), then the original error is raised."""
        try:
            size = request.csv_path.stat().st_size
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {request.csv_path}: {exc.strerror or exc}") from None
        if size > self.max_upload_bytes:
            raise LimitExceededError(f"{request.csv_path} is {size:,} bytes; a Bulk API 2.0 job takes at "
                                     f"most {self.max_upload_bytes:,} (split the file)")
        info = self.client.create_ingest_job(request.object, request.operation, request.external_id,
                                             line_ending=request.line_ending)
        try:
            if on_created is not None:
                on_created(info.id)
            self.client.upload_job_data(info.id, request.csv_path, gzip=self.gzip)
            self.client.close_job(info.id)
        except BaseException:
            self._abort_quietly(info.id)
            raise
        return info.id

    def status(self, job_id: str) -> JobStatus:
        return status_from_job_info(self.client.get_ingest_job(job_id))

    def results(self, job_id: str, dest_dir: Path, status: JobStatus | None = None) -> JobResults:
        """The three result files. A JobComplete job has no unprocessed records, and one that reports no
        failed record has no failed results: those files are written empty without a call."""
        paths = result_paths(job_id, dest_dir)
        complete = status is not None and status.state == "JobComplete"
        self.client.successful_results(job_id, paths.success_csv)
        if complete and status is not None and status.records_failed == 0:
            _empty(paths.failed_csv)
        else:
            self.client.failed_results(job_id, paths.failed_csv)
        if complete:
            _empty(paths.unprocessed_csv)
        else:
            self.client.unprocessed_records(job_id, paths.unprocessed_csv)
        return paths

    def abort(self, job_id: str) -> None:
        self.client.abort_job(job_id)

    def delete(self, job_id: str) -> None:
        self.client.delete_job(job_id)

    def _abort_quietly(self, job_id: str) -> None:
        try:
            self.client.abort_job(job_id)
        except BulkApiError as exc:
            log.warning("could not abort job %s after a failed upload: %s", job_id, exc)
