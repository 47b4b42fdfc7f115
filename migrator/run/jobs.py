"""One Bulk job of a part, from submit to the outcome files: what the executor does for every job.

Submit it (waiting out an org that asks to slow down), watch it at the pace the org sets (JobPace),
fetch its results (skipping files its status says are empty) and join them to the rows by key, into
success / failed / retry files. Every HTTP call is charged to the job; every end of a job tells the
adaptive limit how it went (throttled, rows failing to lock, clean). A connection lost while watching
a job or fetching its results is waited out with backoff and the job re-attached.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import pandas as pd

from migrator.client.http import CallMeter
from migrator.client.ingest import IngestClient, JobRequest, JobStatus, wait_for_status
from migrator.client.polling import POLL_TIMEOUT_CODE, JobPace
from migrator.compile.csvio import read_table, write_table
from migrator.compile.manifest import PartEntry, StepEntry
from migrator.errors import AuthError, BulkApiError, Interrupted, TransientApiError
from migrator.run.checkpoint import JobRecord
from migrator.run.concurrency import AdaptiveLimit, is_throttle
from migrator.run.options import Clock, Event, RunOptions
from migrator.run.outcomes import FAILED_COLUMNS, SOURCE_FILE, SOURCE_ROW, SUCCESS_COLUMNS, classify
from migrator.run.rundir import RunPaths

T = TypeVar("T")
LOCK_ERROR = "UNABLE_TO_LOCK_ROW"


class JobRunner:
    """Runs jobs for the executor; shares its lock, checkpoint saving, stop flag and event callback."""

    def __init__(self, *, paths: RunPaths, clients: Mapping[str, IngestClient], options: RunOptions, clock: Clock,
                 emit: Event, lock: threading.RLock, save: Callable[[], None], stop: threading.Event,
                 meter: CallMeter, serial: Callable[[StepEntry], bool],
                 escalate: Callable[[StepEntry, JobRecord, int], None], plan_folder: Path | None = None):
        self.plan_folder = plan_folder  # where the plan file is: a step's files_dir is relative to it
        self.paths, self.clients, self.options, self.clock, self.emit = paths, clients, options, clock, emit
        self._lock, self._save, self.stop, self.meter = lock, save, stop, meter
        self.serial, self.escalate = serial, escalate
        self.limit = AdaptiveLimit(max(1, options.concurrency), clock.monotonic, adaptive=options.adaptive,
                                   base_delay=options.retry_delay)
        self.pace = JobPace(poll_min=options.poll_min, poll_initial=options.poll_initial, poll_max=options.poll_max)
        self._in_flight: dict[str, tuple[str, float]] = {}  # job id -> (last state seen, since when)
        self._quickest_start: float | None = None  # the shortest wait seen between closing a job and its start

    def _client(self, step: StepEntry, part: PartEntry) -> IngestClient:
        """The step's bulk API; a part of files too big for a ZIP batch goes through REST."""
        if part.transport == "rest" and "rest" in self.clients:
            return self.clients["rest"]
        return self.clients.get(step.api) or self.clients["bulk2"]

    def run(self, step: StepEntry, part: PartEntry, job: JobRecord,
                 loaded: Callable[[], None] | None = None) -> None:
        """One job, its HTTP calls charged to it (and so to its step)."""
        account = f"{step.id}|{job.rows_file}"
        try:
            with self.meter.charge_to(account):
                self._run_job_charged(step, part, job, loaded)
        finally:
            calls = self.meter.take(account)
            with self._lock:  # saved with the part's next change
                job.api_calls += calls

    def _submit(self, client: IngestClient, step: StepEntry, job: JobRecord, request: JobRequest,
                created: Callable[[str], None]) -> str:
        """Create, upload and close the job; an org asking to slow down is waited out (and the limit
        lowered) before the job counts as failed."""
        for waits in range(self.options.throttle_waits + 1):
            try:
                return client.submit(request, on_created=created)
            except BulkApiError as exc:
                if job.job_id is not None or not is_throttle(exc) or waits == self.options.throttle_waits:
                    if is_throttle(exc):
                        self.limit.throttled()
                    raise
                delay = self.limit.throttled()
                self.emit("throttled", {"step": step.id, "delay": delay, "limit": self.limit.limit,
                                        "error": f"{exc.error_code or type(exc).__name__}: {exc.api_message}"})
                self.clock.sleep(delay)
                if self.stop.is_set():
                    raise Interrupted("stopped while the org asked to slow down") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_job_charged(self, step: StepEntry, part: PartEntry, job: JobRecord,
                         loaded: Callable[[], None] | None) -> None:
        client = self._client(step, part)
        rows_path = self.paths.root / job.rows_file
        started = self.clock.monotonic()
        if job.state == "created":
            job = self._reattach_created(client, step, job)
        fresh = job.state == "prepared"
        if fresh:
            request = JobRequest(
                object=step.object,
                operation=step.operation,
                external_id=step.external_id,
                csv_path=rows_path,
                concurrency="serial" if self.serial(step) else step.concurrency,
                files_dir=self.plan_folder / step.files_dir if step.files_dir and self.plan_folder else None,
                binary_fields=step.binary_fields,
            )

            def created(job_id: str) -> None:
                with self._lock:
                    job.job_id, job.state = job_id, "created"
                self._save()

            try:
                job_id = self._submit(client, step, job, request, created)
            except AuthError:
                raise
            except BulkApiError as exc:
                if job.job_id is None:  # no job exists: nothing can have been loaded
                    self._job_error(step, job, started, exc, transient=isinstance(exc, TransientApiError)
                                    or is_throttle(exc))
                    return
                # The job exists and was aborted part way (Bulk 1.0 may already have loaded some
                # batches): take its results like any job's, so no row is sent twice.
                self._record_results(client, step, job, self._wait(client, step, job), started, error=exc)
                return
            with self._lock:  # saved with the job's outcome: on resume a "created" job is re-attached alike
                job.job_id, job.state = job_id, "submitted"
                self._in_flight[job_id] = ("UploadComplete", self.clock.monotonic())  # waiting since closed
            self.emit("job_submitted", {"step": step.id, "job_id": job_id, "rows": job.rows, "attempt": job.attempt})
        assert job.job_id is not None
        closed = self.clock.monotonic()
        status = self._wait(client, step, job, fresh=fresh)
        clean = status.state == "JobComplete" and not status.records_failed
        if clean and loaded is not None and status.records_processed >= job.rows:
            loaded()
        if fresh and status.state == "JobComplete":
            self.pace.learn(job.rows, status.processing_ms / 1000, self.clock.monotonic() - closed)
        self._record_results(client, step, job, status, started)

    def _patiently(self, step: StepEntry, job_id: str, what: str, call: Callable[[], T]) -> T:
        """`call()`, again after a backoff while it fails for a transient reason (a connection error,
        a 5xx): the job lives on the server whatever happens to the connection, so re-attach to it.
        A poll timeout is not a connection problem and is raised at once."""
        for attempt in range(1, self.options.reconnect_attempts + 2):
            try:
                return call()
            except TransientApiError as exc:
                if exc.error_code == POLL_TIMEOUT_CODE or attempt > self.options.reconnect_attempts:
                    raise
                delay = min(self.options.retry_delay * 2 ** (attempt - 1), self.options.reconnect_max_delay)
                self.emit("reconnecting", {"step": step.id, "job_id": job_id, "what": what, "attempt": attempt,
                                           "delay": delay, "error": str(exc)})
                self.clock.sleep(delay)
                if self.stop.is_set():
                    raise Interrupted(f"stopped while waiting to reach job {job_id} again") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _reattach_created(self, client: IngestClient, step: StepEntry, job: JobRecord) -> JobRecord:
        """A job created before an interruption. If it never closed, abort it; either way its results
        say which rows were loaded, and the others are retried, so nothing is sent twice."""
        assert job.job_id is not None
        job_id = job.job_id
        if self._patiently(step, job_id, "status", lambda: client.status(job_id)).state == "Open":
            with contextlib.suppress(BulkApiError):
                client.abort(job.job_id)
        with self._lock:
            job.state = "submitted"
        self._save()
        return job

    def _wait(self, client: IngestClient, step: StepEntry, job: JobRecord, *, fresh: bool = False) -> JobStatus:
        """Poll the job until it ends: first about when it should be done (`fresh`: just submitted), then
        at the pace its progress suggests (see JobPace)."""
        assert job.job_id is not None
        job_id = job.job_id

        def on_poll(status: JobStatus) -> None:
            self.emit(
                "job_progress",
                {
                    "step": step.id,
                    "job_id": job_id,
                    "processed": status.records_processed,
                    "failed": status.records_failed,
                    "state": status.state,
                },
            )
            self._observe(job_id, status)
            if self.stop.is_set() and not status.terminal:
                try:
                    client.abort(job_id)
                finally:
                    raise Interrupted(f"job {job_id} aborted")

        closed = self.clock.monotonic()

        def next_delay(status: JobStatus, last: float) -> float:
            return self.pace.next_delay(job.rows, status.records_processed, status.state == "InProgress", last,
                                        self.clock.monotonic() - closed)

        try:
            return self._patiently(step, job_id, "status", lambda: wait_for_status(
                client,
                job_id,
                clock=self.clock.monotonic,
                sleep=self.clock.sleep,
                timeout=self.options.job_timeout,
                poll_initial=self.options.poll_initial,
                poll_max=self.options.poll_max,
                on_poll=on_poll,
                first_wait=self.pace.first_wait(job.rows) if fresh else 0.0,
                next_delay=next_delay,
            ))
        finally:
            with self._lock:
                self._in_flight.pop(job_id, None)

    def _observe(self, job_id: str, status: JobStatus) -> None:
        """Track our jobs' states for the limit: how many run, and whether the job just looked at has been
        waiting in the org's queue (UploadComplete) for longer than jobs normally take to start. Only the
        job just polled is known to be in the state seen; the others' states may be a few polls old."""
        now = self.clock.monotonic()
        with self._lock:
            state, since = self._in_flight.get(job_id, ("UploadComplete", now))
            if status.state != state:
                if state == "UploadComplete" and status.state in ("InProgress", "JobComplete"):
                    waited = now - since
                    self._quickest_start = waited if self._quickest_start is None else min(self._quickest_start,
                                                                                           waited)
                state, since = status.state, now
            self._in_flight[job_id] = (state, since)
            if status.terminal:
                self._in_flight.pop(job_id, None)
            grace = max(0.5, 3 * (self._quickest_start or 0.0))
            running = sum(1 for st, _ in self._in_flight.values() if st == "InProgress")
            queued = int(state == "UploadComplete" and now - since > grace)
        self.limit.observe(running, queued)

    def _record_results(self, client: IngestClient, step: StepEntry, job: JobRecord, status: JobStatus,
                        started: float, error: BulkApiError | None = None) -> None:
        """Join the job's results to its rows. `error`: why the job was aborted while being submitted."""
        assert job.job_id is not None
        job_error = status.error_message or (f"{error.error_code or type(error).__name__}: {error.api_message}"
                                             if error else None)
        folder = self.paths.jobs_dir(step.id)
        job_id = job.job_id
        results = self._patiently(step, job_id, "results", lambda: client.results(job_id, folder, status))
        sent = self._job_rows(job)
        outcome = classify(
            sent,
            list(step.columns),
            step.key_column,
            read_table(results.success_csv),
            read_table(results.failed_csv),
            read_table(results.unprocessed_csv),
            job_state=status.state,
            job_error=job_error,
            attempt=job.attempt,
            permanent=None if error is None else not isinstance(error, TransientApiError),
        )
        self._write_outcome(step, job, outcome.succeeded, outcome.failed, outcome.retry)
        locked = int(outcome.retry["reason"].str.startswith(LOCK_ERROR).sum()) if len(outcome.retry) else 0
        with self._lock:
            job.job_state, job.error = status.state, job_error
            job.seconds = round(self.clock.monotonic() - started, 3)
            job.counts["locked"] = locked
            job.state = "done"
        self._save()
        self.limit.job_done(job.rows, locked)
        self.escalate(step, job, locked)
        self.emit(
            "job_done",
            {
                "step": step.id,
                "job_id": job.job_id,
                "succeeded": len(outcome.succeeded),
                "failed": len(outcome.failed),
                "retry": len(outcome.retry),
                "locked": locked,
            },
        )

    def _job_rows(self, job: JobRecord) -> pd.DataFrame:
        path = self.paths.root / job.rows_file
        rows = read_table(path)
        index = read_table(path.with_suffix(".source.csv"))
        return rows.assign(**{SOURCE_FILE: index["source_file"].to_numpy(), SOURCE_ROW: index["source_row"].to_numpy()})

    def _job_error(
        self, step: StepEntry, job: JobRecord, started: float, exc: BulkApiError, *, transient: bool
    ) -> None:
        """The job could not be created or loaded at all: every row is retried, or fails with the error."""
        sent = self._job_rows(job)
        empty = pd.DataFrame(columns=list(SUCCESS_COLUMNS))
        reason = f"{exc.error_code or type(exc).__name__}: {exc.api_message}"
        if transient:
            self._write_outcome(
                step, job, empty, pd.DataFrame(columns=list(FAILED_COLUMNS)), sent.assign(reason=reason)
            )
        else:
            failed = pd.DataFrame(
                {
                    "source_file": sent[SOURCE_FILE],
                    "source_row": sent[SOURCE_ROW],
                    "key": sent.get(step.key_column, ""),
                    "error_code": exc.error_code or type(exc).__name__,
                    "message": exc.api_message,
                    "fields": "",
                    "attempts": str(job.attempt),
                }
            )
            for column in step.columns:
                failed[column] = sent[column]
            self._write_outcome(step, job, empty, failed, sent.iloc[:0].assign(reason=""))
        with self._lock:
            job.error, job.state = reason, "done"
            job.seconds = round(self.clock.monotonic() - started, 3)
        self._save()
        self.emit(
            "job_done",
            {
                "step": step.id,
                "job_id": job.job_id,
                "succeeded": 0,
                "failed": 0 if transient else len(sent),
                "retry": len(sent) if transient else 0,
            },
        )

    def _outcome_base(self, step: StepEntry, job: JobRecord) -> Path:
        """Where a job's outcome files go: in the step's jobs folder, named after the job (a first job
        that sends the compiled part itself is named after the part)."""
        name = Path(job.rows_file).stem
        suffix = f".a{job.attempt}.j{job.number}"
        return self.paths.jobs_dir(step.id) / (name if name.endswith(suffix) else name + suffix)

    def _write_outcome(
        self, step: StepEntry, job: JobRecord, succeeded: pd.DataFrame, failed: pd.DataFrame, retry: pd.DataFrame
    ) -> None:
        base = self._outcome_base(step, job)
        outcome, counts = {}, {}
        for kind, frame in (("success", succeeded), ("failed", failed), ("retry", retry)):
            path = base.with_name(f"{base.name}.{kind}.csv")
            write_table(path, frame[list(SUCCESS_COLUMNS)].astype("str") if kind == "success" else frame.astype("str"))
            outcome[kind], counts[kind] = self.paths.relative(path), len(frame)
        counts["created"] = int((succeeded["created"] == "true").sum()) if "created" in succeeded else 0
        with self._lock:
            job.outcome.update(outcome)
            job.counts = counts

