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
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from migrator.client.http import CallMeter
from migrator.client.ingest import IngestClient
from migrator.compile.csvio import read_table, write_table
from migrator.compile.manifest import Manifest, PartEntry, StepEntry
from migrator.compile.refused_parents import REFUSED_PARENTS_FILE
from migrator.errors import Interrupted
from migrator.run.checkpoint import Checkpoint, JobRecord, PartProgress, save_checkpoint
from migrator.run.document_links import Query, document_lookups, resolve_documents
from migrator.run.failed_keys import FailedKeys
from migrator.run.jobs import JobRunner
from migrator.run.options import Clock, Event, RunOptions
from migrator.run.outcomes import SOURCE_FILE, SOURCE_ROW, exhausted
from migrator.run.rundir import RunPaths
from migrator.run.scheduler import PartTask, Schedule
from migrator.run.step_results import StepTally, collect_step, pending_tally


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
        query: Query | None = None,
    ):
        self.manifest, self.paths, self.clients = manifest, paths, clients
        self.query = query  # SOQL on the target, for ContentDocumentIds found by their versions' keys
        self.checkpoint, self.options, self.clock = checkpoint, options, clock
        self.emit: Event = on_event or (lambda kind, data: None)
        self.stop = threading.Event()
        self._lock = threading.RLock()
        self.failures = FailedKeys(manifest)
        self.schedule: Schedule | None = None
        self._serial_gates: dict[str, threading.Lock] = {}
        self.jobs = JobRunner(paths=paths, clients=clients, options=options, clock=clock, emit=self.emit,
                              lock=self._lock, save=self._save, stop=self.stop, meter=meter or CallMeter(),
                              serial=self._serial, escalate=self._maybe_serial,
                              plan_folder=Path(manifest.plan_file).parent)
        self.limit = self.jobs.limit

    # --- bookkeeping -------------------------------------------------------------------------

    def _save(self) -> None:
        with self._lock:
            save_checkpoint(self.paths, self.checkpoint)

    # --- running -------------------------------------------------------------------------------

    def run(self, selected: set[str] | None = None) -> dict[str, StepTally]:
        """Load every selected step, each as soon as the steps it depends on are loaded; a tally per step."""
        self._replay_failures()
        steps = [s for s in self.manifest.steps if selected is None or s.id in selected]
        schedule = self.schedule = Schedule(steps, lock_aware=self.options.lock_aware)
        futures: dict[Future[None], PartTask] = {}
        wake = threading.Condition()
        news: list[tuple[str, PartTask]] = []  # ("loaded" | "done", part) reported by the workers

        def report(kind: str, task: PartTask) -> None:
            with wake:
                news.append((kind, task))
                wake.notify()

        # a finished step's files are gathered on a thread of their own: reading and writing every row of a
        # big step takes a while, and the org must not wait for it to be given the next parts
        finishing: dict[str, Future[StepTally]] = {}
        with ThreadPoolExecutor(max_workers=1) as finisher, \
                ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            try:
                while not schedule.done:
                    while empty := schedule.steps_without_parts():  # nothing to send: done once ready
                        for step in empty:
                            self.emit("step_started", {"id": step.id, "rows": step.rows})
                            schedule.finish_step_if_done(step.id)
                            finishing[step.id] = finisher.submit(self._finish_step, step)
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
                            finishing[task.step.id] = finisher.submit(self._finish_step, task.step)
            except BaseException:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise
        return {step_id: finishing[step_id].result() for step_id in finishing}

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
                        self.jobs.run(step, part, job, early)
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
        documents = document_lookups(self.manifest, step)
        if not documents and (self.options.send_orphans or not self.failures.could_orphan(step)):
            # nothing to leave out: the first job sends the compiled part itself (and its source index)
            with self._lock:
                progress.jobs.append(JobRecord(number=1, attempt=1, rows_file=self.paths.relative(
                    self.paths.plan_dir / part.path), rows=part.rows))
            self._save()
            return
        rows = self._sent_rows(step, part)
        orphans = pd.DataFrame() if self.options.send_orphans else self.failures.orphans(step, rows)
        if documents and self.query is not None:
            resolved, missing = resolve_documents(rows.drop(index=orphans.index), documents, self.query)
            for column, _ in documents:
                rows.loc[resolved.index, column] = resolved[column]
            orphans = pd.concat([orphans, missing]) if not missing.empty else orphans
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

    def _maybe_serial(self, step: StepEntry, job: JobRecord, locked: int) -> None:
        """A retry still failing to lock for many of its rows: the step goes serial from now on."""
        if job.attempt < 2 or not job.rows or locked / job.rows <= self.options.serial_lock_rate:
            return
        if self.schedule is not None and self.schedule.make_serial(step.id):
            self.emit("step_serial", {"step": step.id, "locked": locked, "rows": job.rows,
                                      "attempt": job.attempt})

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
