"""Runs a compiled plan against a target: wave by wave, part by part, one Bulk job per part.

For each part: drop the rows whose parent failed (they are "skipped"), submit the rest as a job,
poll it, fetch its results and join them to the rows by key. Rows that failed for a transient
reason (lock contention, a failed or aborted job, server errors) are re-sent in new, smaller jobs
with backoff, up to `max_retries`; permanent failures are final and their keys are remembered so
that children are skipped rather than sent to fail. Every change is checkpointed atomically, so a
run killed at any point resumes without sending a finished job again: the job id is recorded as
soon as the job exists, and an unfinished job is re-attached, not re-sent. A connection lost while
watching a job or fetching its results (a dropped socket, a server restarting) is waited out with
backoff and the job re-attached: the job lives on the server whatever happens to the connection.

Time, sleep and the HTTP clients are injected; this module does no printing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from migrator.client.ingest import IngestClient, JobRequest, JobStatus, wait_for_status
from migrator.client.polling import POLL_TIMEOUT_CODE
from migrator.compile.csvio import read_table, write_table
from migrator.compile.manifest import Manifest, PartEntry, StepEntry
from migrator.compile.refused_parents import REFUSED_PARENTS_FILE
from migrator.errors import AuthError, BulkApiError, Interrupted, TransientApiError
from migrator.run.checkpoint import Checkpoint, JobRecord, PartProgress, save_checkpoint
from migrator.run.failed_keys import FailedKeys
from migrator.run.outcomes import FAILED_COLUMNS, SOURCE_FILE, SOURCE_ROW, SUCCESS_COLUMNS, classify, exhausted
from migrator.run.rundir import RunPaths
from migrator.run.step_results import StepTally, collect_step, pending_tally

Event = Callable[[str, Mapping[str, object]], None]
T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    max_retries: int = 3
    send_orphans: bool = False
    concurrency: int = 4
    poll_initial: float = 0.25
    poll_max: float = 5.0
    job_timeout: float = 3600.0
    retry_delay: float = 1.0
    # A connection error while watching a job or fetching its results (a dropped socket, a server
    # restarting) is waited out: this many new attempts, the delay doubling up to reconnect_max_delay.
    reconnect_attempts: int = 8
    reconnect_max_delay: float = 30.0


@dataclass(frozen=True)
class Clock:
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class Executor:
    def __init__(
        self,
        manifest: Manifest,
        paths: RunPaths,
        clients: Mapping[str, IngestClient],
        checkpoint: Checkpoint,
        options: RunOptions = RunOptions(),
        clock: Clock = Clock(),
        on_event: Event | None = None,
    ):
        self.manifest, self.paths, self.clients = manifest, paths, clients
        self.checkpoint, self.options, self.clock = checkpoint, options, clock
        self.emit: Event = on_event or (lambda kind, data: None)
        self.stop = threading.Event()
        self._lock = threading.RLock()
        self.failures = FailedKeys(manifest)

    # --- bookkeeping -------------------------------------------------------------------------

    def _save(self) -> None:
        with self._lock:
            save_checkpoint(self.paths, self.checkpoint)

    # --- running -------------------------------------------------------------------------------

    def run(self, selected: set[str] | None = None) -> dict[str, StepTally]:
        """Load every selected step in wave order; returns a tally per step."""
        tallies: dict[str, StepTally] = {}
        self._replay_failures()
        waves = sorted({s.wave for s in self.manifest.steps})
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            for wave in waves:
                steps = [s for s in self.manifest.steps if s.wave == wave and (selected is None or s.id in selected)]
                work = [(step, part) for step in steps for part in step.parts]
                for step in steps:
                    self.emit("step_started", {"id": step.id, "rows": step.rows})
                futures = [pool.submit(self._run_part, step, part) for step, part in work]
                try:
                    for future in futures:
                        future.result()
                except BaseException:
                    self.stop.set()
                    for future in futures:
                        future.cancel()
                    raise
                for step in steps:
                    tallies[step.id] = self._finish_step(step)
        return tallies

    def tally_all(self, selected: set[str] | None = None) -> dict[str, StepTally]:
        """Outcomes so far of every selected step: what an interrupted or failed run still reports
        (a step it never reached has every row still to send)."""
        return {
            step.id: self._finish_step(step) if step.id in self.checkpoint.steps else pending_tally(step)
            for step in self.manifest.steps
            if selected is None or step.id in selected
        }

    def _replay_failures(self) -> None:
        """Parents the plan refused, and on resume the failures of parts already done, decide which
        children are skipped."""
        refused = self.paths.plan_dir / REFUSED_PARENTS_FILE
        if refused.exists():
            self.failures.refuse(read_table(refused))
        for step in self.manifest.steps:
            progress = self.checkpoint.steps.get(step.id)
            if progress is None:
                continue
            for part in progress.parts.values():
                if part.done:
                    self.failures.remember(step, *self._final_failures(part))

    def _final_failures(self, part: PartProgress) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(failed, skipped) rows of a finished part, kept apart: their files have different columns."""
        frames = [read_table(self.paths.root / j.outcome[kind]) for j in part.jobs
                  for kind in ("failed", "exhausted") if kind in j.outcome]
        frames = [f for f in frames if not f.empty]
        failed = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        skipped = read_table(self.paths.root / part.skipped_file) if part.skipped_file else pd.DataFrame()
        return failed, skipped

    def _sent_rows(self, step: StepEntry, part: PartEntry) -> pd.DataFrame:
        rows = read_table(self.paths.plan_dir / part.path)
        index = read_table(self.paths.plan_dir / part.source_index)
        return rows.assign(**{SOURCE_FILE: index["source_file"].to_numpy(), SOURCE_ROW: index["source_row"].to_numpy()})

    def _run_part(self, step: StepEntry, part: PartEntry) -> None:
        progress = self.checkpoint.part(step.id, part.path)
        if progress.done:
            return
        if self.stop.is_set():
            raise Interrupted("stopped before this part started")
        if progress.last_attempt == 0:
            self._plan_first_attempt(step, part, progress)
        while True:
            attempt = progress.last_attempt
            for job in progress.attempt_jobs(attempt):
                if not job.done:
                    self._run_job(step, part, job)
            retry = self._collect(progress, attempt, "retry")
            if retry.empty:
                break
            if attempt > self.options.max_retries:
                self._give_up(step, part, progress, retry, attempt)
                break
            self._plan_retry(step, part, progress, retry, attempt + 1)
        with self._lock:
            progress.done = True
        self._save()
        self.failures.remember(step, *self._final_failures(progress))

    def _plan_first_attempt(self, step: StepEntry, part: PartEntry, progress: PartProgress) -> None:
        rows = self._sent_rows(step, part)
        orphans = pd.DataFrame() if self.options.send_orphans else self.failures.orphans(step, rows)
        folder = self.paths.jobs_dir(step.id)
        stem = Path(part.path).stem
        if not orphans.empty:
            skipped = rows.loc[orphans.index]
            skipped_file = folder / f"{stem}.skipped.csv"
            outcome = pd.DataFrame(
                {
                    "source_file": skipped[SOURCE_FILE].to_numpy(),
                    "source_row": skipped[SOURCE_ROW].to_numpy(),
                    "key": skipped[step.key_column].to_numpy() if step.key_column in skipped else "",
                    "reason": orphans["reason"].to_numpy(),
                    "parent_object": orphans["parent_object"].to_numpy(),
                    "parent_key": orphans["parent_key"].to_numpy(),
                }
            )
            # the rows as they would have been sent, too: their own children may find them by any column
            sent_as = {c: skipped[c].to_numpy() for c in step.columns if c not in outcome}
            write_table(skipped_file, outcome.assign(**sent_as))
            progress.skipped_file, progress.skipped = self.paths.relative(skipped_file), len(orphans)
            rows = rows.drop(index=orphans.index)
        if not rows.empty:
            progress.jobs.append(self._job_record(step, folder, stem, 1, 1, rows))
        self._save()

    def _job_record(
        self, step: StepEntry, folder: Path, stem: str, attempt: int, number: int, rows: pd.DataFrame
    ) -> JobRecord:
        rows_file = folder / f"{stem}.a{attempt}.j{number}.csv"
        write_table(rows_file, rows[list(step.columns)])
        write_table(
            rows_file.with_suffix(".source.csv"),
            pd.DataFrame({"source_file": rows[SOURCE_FILE].to_numpy(), "source_row": rows[SOURCE_ROW].to_numpy()}),
        )
        return JobRecord(number=number, attempt=attempt, rows_file=self.paths.relative(rows_file), rows=len(rows))

    def _plan_retry(
        self, step: StepEntry, part: PartEntry, progress: PartProgress, retry: pd.DataFrame, attempt: int
    ) -> None:
        """Transient failures go again in smaller jobs (halved each attempt), after a backoff."""
        pieces = min(len(retry), 2 ** (attempt - 1))
        folder = self.paths.jobs_dir(step.id)
        stem = Path(part.path).stem
        for number, chunk in enumerate(np.array_split(np.arange(len(retry)), pieces), start=1):
            progress.jobs.append(self._job_record(step, folder, stem, attempt, number, retry.iloc[chunk]))
        self._save()
        delay = self.options.retry_delay * 2 ** (attempt - 2)
        self.emit("retry_scheduled", {"step": step.id, "rows": len(retry), "attempt": attempt, "delay": delay})
        self.clock.sleep(delay)

    def _give_up(
        self, step: StepEntry, part: PartEntry, progress: PartProgress, retry: pd.DataFrame, attempt: int
    ) -> None:
        final = exhausted(retry, list(step.columns), step.key_column, attempt)
        last = progress.attempt_jobs(attempt)[-1]
        path = self.paths.jobs_dir(step.id) / f"{Path(part.path).stem}.exhausted.csv"
        write_table(path, final)
        with self._lock:
            last.outcome["exhausted"] = self.paths.relative(path)
        self._save()

    def _collect(self, progress: PartProgress, attempt: int, kind: str) -> pd.DataFrame:
        frames = [
            read_table(self.paths.root / j.outcome[kind]) for j in progress.attempt_jobs(attempt) if kind in j.outcome
        ]
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # --- one job -------------------------------------------------------------------------------

    def _client(self, step: StepEntry, part: PartEntry) -> IngestClient:
        """The step's bulk API; a part of files too big for a ZIP batch goes through REST."""
        if part.transport == "rest" and "rest" in self.clients:
            return self.clients["rest"]
        return self.clients.get(step.api) or self.clients["bulk2"]

    def _run_job(self, step: StepEntry, part: PartEntry, job: JobRecord) -> None:
        client = self._client(step, part)
        rows_path = self.paths.root / job.rows_file
        started = self.clock.monotonic()
        if job.state == "created":
            job = self._reattach_created(client, step, job)
        if job.state == "prepared":
            request = JobRequest(
                object=step.object,
                operation=step.operation,
                external_id=step.external_id,
                csv_path=rows_path,
                concurrency=step.concurrency,
                files_dir=Path(self.manifest.plan_file).parent / step.files_dir if step.files_dir else None,
                binary_fields=step.binary_fields,
            )

            def created(job_id: str) -> None:
                with self._lock:
                    job.job_id, job.state = job_id, "created"
                self._save()

            try:
                job_id = client.submit(request, on_created=created)
            except AuthError:
                raise
            except BulkApiError as exc:
                if job.job_id is None:  # no job exists: nothing can have been loaded
                    self._job_error(step, job, started, exc, transient=isinstance(exc, TransientApiError))
                    return
                # The job exists and was aborted part way (Bulk 1.0 may already have loaded some
                # batches): take its results like any job's, so no row is sent twice.
                self._record_results(client, step, job, self._wait(client, step, job), started, error=exc)
                return
            with self._lock:
                job.job_id, job.state = job_id, "submitted"
            self._save()
            self.emit("job_submitted", {"step": step.id, "job_id": job_id, "rows": job.rows, "attempt": job.attempt})
        assert job.job_id is not None
        status = self._wait(client, step, job)
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

    def _wait(self, client: IngestClient, step: StepEntry, job: JobRecord) -> JobStatus:
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
            if self.stop.is_set() and not status.terminal:
                try:
                    client.abort(job_id)
                finally:
                    raise Interrupted(f"job {job_id} aborted")

        return self._patiently(step, job_id, "status", lambda: wait_for_status(
            client,
            job_id,
            clock=self.clock.monotonic,
            sleep=self.clock.sleep,
            timeout=self.options.job_timeout,
            poll_initial=self.options.poll_initial,
            poll_max=self.options.poll_max,
            on_poll=on_poll,
        ))

    def _record_results(self, client: IngestClient, step: StepEntry, job: JobRecord, status: JobStatus,
                        started: float, error: BulkApiError | None = None) -> None:
        """Join the job's results to its rows. `error`: why the job was aborted while being submitted."""
        assert job.job_id is not None
        job_error = status.error_message or (f"{error.error_code or type(error).__name__}: {error.api_message}"
                                             if error else None)
        folder = self.paths.jobs_dir(step.id)
        job_id = job.job_id
        results = self._patiently(step, job_id, "results", lambda: client.results(job_id, folder))
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
        with self._lock:
            job.job_state, job.error = status.state, job_error
            job.seconds = round(self.clock.monotonic() - started, 3)
            job.state = "done"
        self._save()
        self.emit(
            "job_done",
            {
                "step": step.id,
                "job_id": job.job_id,
                "succeeded": len(outcome.succeeded),
                "failed": len(outcome.failed),
                "retry": len(outcome.retry),
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

    def _write_outcome(
        self, step: StepEntry, job: JobRecord, succeeded: pd.DataFrame, failed: pd.DataFrame, retry: pd.DataFrame
    ) -> None:
        base = (self.paths.root / job.rows_file).with_suffix("")
        outcome, counts = {}, {}
        for kind, frame in (("success", succeeded), ("failed", failed), ("retry", retry)):
            path = base.with_name(f"{base.name}.{kind}.csv")
            write_table(path, frame.astype("str"))
            outcome[kind], counts[kind] = self.paths.relative(path), len(frame)
        with self._lock:
            job.outcome.update(outcome)
            job.counts = counts

    # --- step results ------------------------------------------------------------------------

    def _finish_step(self, step: StepEntry) -> StepTally:
        """Gather every part's final outcome into the step's success, failed and skipped files."""
        progress = self.checkpoint.step(step.id)
        tally = collect_step(self.paths, step, progress)
        with self._lock:
            progress.done = all(p.done for p in progress.parts.values()) and len(progress.parts) == len(step.parts)
        self._save()
        self.emit("step_done", {"id": step.id, "succeeded": tally.succeeded, "failed": tally.failed,
                                "skipped": tally.skipped})
        return tally
