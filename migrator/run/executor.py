"""Runs a compiled plan against a target: part by part, one Bulk job per part, as dependencies allow.

For each part: drop the rows whose parent failed (they are "skipped"), submit the rest as a job,
poll it, fetch its results and join them to the rows by key. Rows that failed for a transient
reason (lock contention, a failed or aborted job, server errors) are re-sent in new, smaller jobs
with backoff, up to `max_retries`; permanent failures are final and their keys are remembered so
that children are skipped rather than sent to fail. Every change is checkpointed atomically, so a
run killed at any point resumes without sending a finished job again: the job id is recorded as
soon as the job exists, and an unfinished job is re-attached, not re-sent. A connection lost while
watching a job or fetching its results (a dropped socket, a server restarting) is waited out with
backoff and the job re-attached: the job lives on the server whatever happens to the connection.

Which part goes next is the scheduler's call (scheduler.py): a step starts once the steps it depends
on are loaded (no wave barrier), parts naming the same parents never run at once, and a step whose
lock failures stay high goes serial. How many jobs are in flight adapts to what the org does
(concurrency.py), and each job is checked about when it should be done (client/polling.py's
JobPace). Every HTTP call a job makes is counted and charged to its step.

Time, sleep and the HTTP clients are injected; this module does no printing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from migrator.client.http import CallMeter
from migrator.client.ingest import IngestClient, JobRequest, JobStatus, wait_for_status
from migrator.client.polling import POLL_TIMEOUT_CODE, JobPace
from migrator.compile.csvio import read_table, write_table
from migrator.compile.manifest import Manifest, PartEntry, StepEntry
from migrator.compile.refused_parents import REFUSED_PARENTS_FILE
from migrator.errors import AuthError, BulkApiError, Interrupted, TransientApiError
from migrator.run.checkpoint import Checkpoint, JobRecord, PartProgress, save_checkpoint
from migrator.run.concurrency import AdaptiveLimit, is_throttle
from migrator.run.failed_keys import FailedKeys
from migrator.run.outcomes import FAILED_COLUMNS, SOURCE_FILE, SOURCE_ROW, SUCCESS_COLUMNS, classify, exhausted
from migrator.run.rundir import RunPaths
from migrator.run.scheduler import PartTask, Schedule
from migrator.run.step_results import StepTally, collect_step, pending_tally

Event = Callable[[str, Mapping[str, object]], None]
T = TypeVar("T")


LOCK_ERROR = "UNABLE_TO_LOCK_ROW"


@dataclass(frozen=True)
class RunOptions:
    max_retries: int = 3
    send_orphans: bool = False
    concurrency: int = 4  # the most jobs in flight; fewer when the org asks (adaptive)
    poll_initial: float = 0.25
    poll_max: float = 5.0
    poll_min: float = 0.05
    job_timeout: float = 3600.0
    retry_delay: float = 1.0
    # A connection error while watching a job or fetching its results (a dropped socket, a server
    # restarting) is waited out: this many new attempts, the delay doubling up to reconnect_max_delay.
    reconnect_attempts: int = 8
    reconnect_max_delay: float = 30.0
    lock_aware: bool = True  # parts naming the same parents never run at once (and the plan orders rows)
    adaptive: bool = True  # jobs in flight follow the org (throttling, locks, queue), up to `concurrency`
    # A retried job with more of its rows failing to lock than this makes its step serial.
    serial_lock_rate: float = 0.1
    throttle_waits: int = 10  # refusals to create a job waited out before its rows count as failed once


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
        meter: CallMeter | None = None,
    ):
        self.manifest, self.paths, self.clients = manifest, paths, clients
        self.checkpoint, self.options, self.clock = checkpoint, options, clock
        self.emit: Event = on_event or (lambda kind, data: None)
        self.stop = threading.Event()
        self._lock = threading.RLock()
        self.failures = FailedKeys(manifest)
        self.meter = meter or CallMeter()
        self.limit = AdaptiveLimit(max(1, options.concurrency), clock.monotonic, adaptive=options.adaptive,
                                   base_delay=options.retry_delay)
        self.pace = JobPace(poll_min=options.poll_min, poll_initial=options.poll_initial, poll_max=options.poll_max)
        self.schedule: Schedule | None = None
        self._serial_gates: dict[str, threading.Lock] = {}
        self._in_flight: dict[str, tuple[str, float]] = {}  # job id -> (last state seen, since when)
        self._quickest_start: float | None = None  # the shortest wait seen between closing a job and its start

    # --- bookkeeping -------------------------------------------------------------------------

    def _save(self) -> None:
        with self._lock:
            save_checkpoint(self.paths, self.checkpoint)

    # --- running -------------------------------------------------------------------------------

    def run(self, selected: set[str] | None = None) -> dict[str, StepTally]:
        """Load every selected step, each as soon as the steps it depends on are loaded; a tally per step."""
        tallies: dict[str, StepTally] = {}
        self._replay_failures()
        steps = [s for s in self.manifest.steps if selected is None or s.id in selected]
        schedule = self.schedule = Schedule(steps, lock_aware=self.options.lock_aware,
                                            serial=[s.id for s in steps if s.concurrency == "serial"])
        futures: dict[Future[None], PartTask] = {}
        wake = threading.Condition()
        news: list[tuple[str, PartTask]] = []  # ("loaded" | "done", part) reported by the workers

        def report(kind: str, task: PartTask) -> None:
            with wake:
                news.append((kind, task))
                wake.notify()

        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            try:
                while not schedule.done:
                    while empty := schedule.steps_without_parts():  # nothing to send: done once ready
                        for step in empty:
                            self.emit("step_started", {"id": step.id, "rows": step.rows})
                            schedule.finish_step_if_done(step.id)
                            tallies[step.id] = self._finish_step(step)
                    while (task := schedule.next(self.limit.limit)) is not None:
                        if schedule.start(task):
                            self.emit("step_started", {"id": task.step.id, "rows": task.step.rows})
                        future = pool.submit(self._run_part, task.step, task.part,
                                             lambda task=task: report("loaded", task))
                        futures[future] = task
                        future.add_done_callback(lambda _, task=task: report("done", task))
                    if schedule.done:
                        break
                    if not futures:
                        raise AssertionError("nothing in flight and nothing can start")  # pragma: no cover
                    with wake:  # a part loaded or ended; now and then, a limit raised by a job ending
                        wake.wait_for(lambda: bool(news), timeout=0.2)
                        arrived, news[:] = list(news), []
                    for kind, task in arrived:
                        if kind == "loaded":
                            schedule.mark_loaded(task)
                            continue
                        future = next(f for f, t in futures.items() if t is task)
                        del futures[future]
                        future.result()
                        if schedule.finish(task):
                            tallies[task.step.id] = self._finish_step(task.step)
            except BaseException:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise
        return tallies

    def concurrency(self) -> dict[str, object]:
        """How many jobs were allowed in flight, and why that changed (for run_results.json)."""
        return {"max": self.limit.maximum, "final": self.limit.limit, "adaptive": self.limit.adaptive,
                "changes": [{"limit": e.limit, "reason": e.reason} for e in self.limit.history]}

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

    def _run_part(self, step: StepEntry, part: PartEntry, loaded: Callable[[], None] = lambda: None) -> None:
        """Send the part until every row has an outcome. `loaded()` is called as soon as its only job
        ended with every row loaded, before its results are read: children may go already."""
        with self._lock:  # the checkpoint is saved from other threads meanwhile
            progress = self.checkpoint.part(step.id, part.path)
        if progress.done:
            return
        if self.stop.is_set():
            raise Interrupted("stopped before this part started")
        if progress.last_attempt == 0:
            self._plan_first_attempt(step, part, progress)
        while True:
            attempt = progress.last_attempt
            with self._gate(step):
                jobs = progress.attempt_jobs(attempt)
                # children may go once this job loads every row, unless rows of the part were skipped:
                # their keys must be known (at the part's end) before children are sent
                early = loaded if attempt == 1 and len(jobs) == 1 and not progress.skipped else None
                for job in jobs:
                    if not job.done:
                        self._run_job(step, part, job, early)
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
        if self.options.send_orphans or not self.failures.could_orphan(step):
            # nothing to leave out: the first job sends the compiled part itself (and its source index)
            with self._lock:
                progress.jobs.append(JobRecord(number=1, attempt=1, rows_file=self.paths.relative(
                    self.paths.plan_dir / part.path), rows=part.rows))
            self._save()
            return
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
            with self._lock:
                progress.skipped_file, progress.skipped = self.paths.relative(skipped_file), len(orphans)
            rows = rows.drop(index=orphans.index)
        if not rows.empty:
            record = self._job_record(step, folder, stem, 1, 1, rows)
            with self._lock:
                progress.jobs.append(record)
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
            record = self._job_record(step, folder, stem, attempt, number, retry.iloc[chunk])
            with self._lock:
                progress.jobs.append(record)
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

    def _client(self, step: StepEntry) -> IngestClient:
        return self.clients.get(step.api) or self.clients["bulk2"]

    def _serial(self, step: StepEntry) -> bool:
        return self.schedule is not None and step.id in self.schedule.serial

    @contextlib.contextmanager
    def _gate(self, step: StepEntry) -> Iterator[None]:
        """Jobs of a serial step run one at a time, retries of parts already in flight included."""
        if not self._serial(step):
            yield
            return
        with self._lock:
            gate = self._serial_gates.setdefault(step.id, threading.Lock())
        with gate:
            yield

    def _run_job(self, step: StepEntry, part: PartEntry, job: JobRecord,
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
        client = self._client(step)
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
                concurrency="serial" if self._serial(step) else step.concurrency,
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

        def next_delay(status: JobStatus, last: float) -> float:
            return self.pace.next_delay(job.rows, status.records_processed, status.state == "InProgress", last)

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
        """Track our jobs' states: how many run and how many wait in the org's queue (for the limit)."""
        now = self.clock.monotonic()
        with self._lock:
            state, since = self._in_flight.get(job_id, (None, now))
            if status.state != state:
                if state == "UploadComplete" and status.state in ("InProgress", "JobComplete"):
                    waited = now - since
                    self._quickest_start = waited if self._quickest_start is None else min(self._quickest_start,
                                                                                           waited)
                self._in_flight[job_id] = (status.state, now)
            if status.terminal:
                self._in_flight.pop(job_id, None)
            grace = max(2.0, 3 * (self._quickest_start or 0.0))
            running = sum(1 for st, _ in self._in_flight.values() if st == "InProgress")
            queued = sum(1 for st, at in self._in_flight.values() if st == "UploadComplete" and now - at > grace)
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
        self._maybe_serial(step, job, locked)
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

    def _maybe_serial(self, step: StepEntry, job: JobRecord, locked: int) -> None:
        """A retry still failing to lock for many of its rows: the step goes serial from now on."""
        if job.attempt < 2 or not job.rows or locked / job.rows <= self.options.serial_lock_rate:
            return
        if self.schedule is not None and self.schedule.make_serial(step.id):
            self.emit("step_serial", {"step": step.id, "locked": locked, "rows": job.rows,
                                      "attempt": job.attempt})

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
            write_table(path, frame.astype("str"))
            outcome[kind], counts[kind] = self.paths.relative(path), len(frame)
        with self._lock:
            job.outcome.update(outcome)
            job.counts = counts

    # --- step results ------------------------------------------------------------------------

    def _finish_step(self, step: StepEntry) -> StepTally:
        """Gather every part's final outcome into the step's success, failed and skipped files."""
        with self._lock:
            progress = self.checkpoint.step(step.id)
        tally = collect_step(self.paths, step, progress)
        tally.serial = self._serial(step) or step.concurrency == "serial"
        with self._lock:
            progress.done = all(p.done for p in progress.parts.values()) and len(progress.parts) == len(step.parts)
        self._save()
        self.emit("step_done", {"id": step.id, "succeeded": tally.succeeded, "failed": tally.failed,
                                "skipped": tally.skipped})
        return tally
