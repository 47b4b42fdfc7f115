"""Processing one closed ingest job: parse the upload, run it through the DML engine batch by batch.

UploadComplete -> InProgress -> JobComplete, or Failed (unreadable CSV, unusable header, injected
failure) with an errorMessage; rows already processed keep their results and the rest are listed as
unprocessed. An abort between batches stops the job the same way. Progress counters are published
(in memory) after every batch so polling clients see them grow.

Small jobs run each batch in one transaction on this thread. Big jobs run pipelined: this thread
validates batch n+1 while the writer process (sqlwriter.py) applies batch n, with record Ids reserved
up front and the job's keys held in hash indexes that are updated as batches are prepared.

Paced jobs (pacing.py) are taken one chunk at a time instead: `open_job` parses and plans the job,
`run_chunk` applies one chunk in one transaction on the DML thread (with the rows the pacing model
says fail to lock), and `complete_job` records the end, so chunks of several jobs can interleave.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .csvformat import BOM, CsvInputError, ParsedCsv, parse_csv
from .dml_engine import DmlContext, DmlEngine
from .dml_plan import DmlPlan, HeaderError, JobRequestError
from .dml_write import Statement
from .faults import Faults
from .ingest_results import UPLOAD, IngestResultWriter
from .jobs import Job, JobFiles, JobStore
from .keyindex import KeyIndexCache, KeyIndexes
from .settings import OrgSettings
from .sqlwriter import SqlWriter, WriterError
from .store import Store, format_datetime, now_utc, secondary_indexes, sql_name


def stamp() -> str:
    """JobInfo dateTime form: ``2024-03-20T21:42:13.000+0000``."""
    return format_datetime(now_utc()).replace("Z", "+0000")


@dataclass
class Progress:
    processed: int = 0
    failed: int = 0
    active_seconds: float = 0.0

    def add(self, rows: int, failed: int, seconds: float) -> None:
        self.processed += rows
        self.failed += failed
        self.active_seconds += seconds


@dataclass
class OpenedJob:
    """A job taken up chunk by chunk: its parsed upload, DML plan, result files and progress."""

    job: Job
    parsed: ParsedCsv
    plan: DmlPlan
    writer: IngestResultWriter
    started: float
    progress: Progress
    deleted: set[str]


class JobFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Reservations:
    """Counter ranges (record Ids, auto-numbers) reserved for a whole pipelined job in one write."""

    def __init__(self, store: Store, counts: dict[str, int]):
        with store.transaction() as conn:
            self._next = {name: store.next_counter(conn, name, count) for name, count in counts.items()}
        self._end = {name: self._next[name] + count for name, count in counts.items()}

    def take(self, name: str, count: int) -> int:
        first = self._next[name]
        if first + count > self._end[name]:
            raise RuntimeError(f"counter {name} reservation exhausted")
        self._next[name] = first + count
        return first


class IngestProcessor:
    def __init__(self, store: Store, jobs: JobStore, files: JobFiles, faults: Faults, settings: OrgSettings,
                 writer: SqlWriter):
        self.store = store
        self.engine = DmlEngine(store)
        self.jobs = jobs
        self.files = files
        self.faults = faults
        self.settings = settings
        self.writer = writer
        self.index_cache = KeyIndexCache()

    def indexes_for(self, rows: int) -> KeyIndexes:
        """Key indexes for a unit of work of `rows` rows on the DML thread (shared cache included)."""
        return KeyIndexes(self.store.conn(), rows, self.settings.in_memory_index_rows, self.index_cache)

    def process(self, job_id: str) -> None:
        """Run a whole UploadComplete job at once (unpaced): opened as a paced job is, then every batch."""
        opened = self.open_job(job_id)
        if opened is None:
            return
        job, parsed, progress = opened.job, opened.parsed, opened.progress
        try:
            self._run_batches(job, parsed, opened.plan, opened.writer, progress)
        except (HeaderError, JobRequestError) as exc:
            opened.writer.unprocessed(parsed)
            self._finish(job, "Failed", opened.started, Progress(), error=exc.message)
        except JobAborted:
            opened.writer.unprocessed(parsed.rows(progress.processed, parsed.row_count))
            self._finish(job, "Aborted", opened.started, progress)
        except JobFailed as exc:
            opened.writer.unprocessed(parsed.rows(progress.processed, parsed.row_count))
            self._finish(job, "Failed", opened.started, progress, error=exc.message)
        else:
            self._finish(job, "JobComplete", opened.started, progress)

    # --- chunk by chunk (paced jobs) --------------------------------------------------------------
    def open_job(self, job_id: str) -> OpenedJob | None:
        """Take an UploadComplete job up (InProgress) and parse it; None when it is gone, aborted, or
        failed at once (unreadable CSV, unusable header), in which case it has been finished."""
        job = self.jobs.get(job_id)
        if job is None or not self.jobs.transition(job_id, ["UploadComplete"], "InProgress", system_modstamp=stamp()):
            return None
        started = time.monotonic()
        writer = IngestResultWriter(self.files, job)
        upload = self.files.path(job_id, UPLOAD)
        data = upload.read_bytes() if upload.exists() else b""
        try:
            parsed = parse_csv(data, job.column_delimiter, job.line_ending)
        except CsvInputError as exc:
            data = data.removeprefix(BOM)
            job.header_line = data.partition(b"\n")[0].removesuffix(b"\r").decode("utf-8", "replace")
            writer.unprocessed_raw(data)
            self._finish(job, "Failed", started, Progress(), error=exc.message, header_line=job.header_line)
            return None
        job.header_line = parsed.header_line
        self.jobs.update(job_id, header_line=parsed.header_line)
        try:
            plan = self.engine.prepare(job.object, job.operation, parsed.headers, job.external_id_field)
        except (HeaderError, JobRequestError) as exc:
            writer.unprocessed(parsed)
            self._finish(job, "Failed", started, Progress(), error=exc.message)
            return None
        return OpenedJob(job, parsed, plan, writer, started, Progress(), set())

    def run_chunk(self, opened: OpenedJob, first: int, last: int, locked: np.ndarray | None = None) -> bool:
        """Apply rows [first, last) in one transaction, `locked` (positions in the chunk) failing with
        UNABLE_TO_LOCK_ROW. Returns False when the job ended instead (aborted, or an injected failure),
        having finished it. Runs on the DML thread."""
        job, parsed, progress = opened.job, opened.parsed, opened.progress
        try:
            last = self._check_continue(job, first, last)
            batch_started = time.monotonic()
            chunk = parsed.rows(first, last)
            columns = [chunk.column(i) for i in range(len(parsed.headers))]
            ctx = self._context(job, chunk, first, self.indexes_for(chunk.row_count), opened.deleted, locked)
            result = self.engine.run_batch(opened.plan, columns, chunk.row_count, ctx)
            opened.writer.add(chunk, result.ids, result.created, result.errors)
            progress.add(chunk.row_count, int(np.count_nonzero(~result.ok)), time.monotonic() - batch_started)
            self.jobs.set_live(job.id, records_processed=progress.processed, records_failed=progress.failed,
                               system_modstamp=stamp())
            self._check_fail_after(progress.processed, parsed.row_count)
        except JobAborted:
            opened.writer.unprocessed(parsed.rows(progress.processed, parsed.row_count))
            self._finish(job, "Aborted", opened.started, progress)
            return False
        except JobFailed as exc:
            opened.writer.unprocessed(parsed.rows(progress.processed, parsed.row_count))
            self._finish(job, "Failed", opened.started, progress, error=exc.message)
            return False
        return True

    def complete_job(self, opened: OpenedJob) -> None:
        """Every chunk ran: JobComplete."""
        self._finish(opened.job, "JobComplete", opened.started, opened.progress)

    def _run_batches(self, job: Job, parsed: ParsedCsv, plan: DmlPlan, writer: IngestResultWriter,
                     progress: Progress) -> None:
        indexes = self.indexes_for(parsed.row_count)
        pipeline = self._pipeline(plan, parsed.row_count, indexes)
        deleted: set[str] = set()
        with self._writing(plan, parsed.row_count, pipeline is not None):
            for first in range(0, parsed.row_count, self.settings.batch_size):
                last = self._check_continue(job, first, min(first + self.settings.batch_size, parsed.row_count))
                batch_started = time.monotonic()
                chunk = parsed.rows(first, last)
                columns = [chunk.column(i) for i in range(len(parsed.headers))]
                ctx = self._context(job, chunk, first, indexes, deleted)
                if pipeline is None:
                    result = self.engine.run_batch(plan, columns, chunk.row_count, ctx)
                else:
                    invalidations = indexes.invalidations
                    ctx.reserve = pipeline.take
                    prepared = self.engine.prepare_batch(plan, columns, chunk.row_count, ctx)
                    self.writer.submit(prepared.statements)
                    if indexes.invalidations != invalidations:  # later batches must read committed data
                        self.writer.drain()
                    result = prepared.result
                writer.add(chunk, result.ids, result.created, result.errors)
                progress.add(chunk.row_count, int(np.count_nonzero(~result.ok)), time.monotonic() - batch_started)
                self.jobs.set_live(job.id, records_processed=progress.processed, records_failed=progress.failed,
                                   system_modstamp=stamp())
                self._check_fail_after(progress.processed, parsed.row_count)

    @contextmanager
    def _writing(self, plan: DmlPlan, rows: int, pipelined: bool) -> Iterator[None]:
        """Around a job's batches: drain the writer process at the end. A pipelined insert into a table
        much smaller than the job first drops the table's secondary indexes and builds them again at the
        end (one sort instead of a B-tree insert per row and index); keys are probed in memory meanwhile.

        The rebuild is queued behind the job's batches, not waited for: once the batches are committed
        every record is stored and readable, and these indexes only make reads faster (keys are unique
        because the engine checks them, not because of an index). The writer applies it while the
        next job is parsed and prepared; a job that writes after it waits its turn in the writer's
        queue, and a restart builds any index a stop interrupted.
        """
        bulk_load = pipelined and plan.operation in ("insert", "upsert") and self._table_rows(plan) * 4 < rows
        indexes = secondary_indexes(plan.object) if bulk_load else []
        if indexes:
            self.writer.submit([Statement(drop, ()) for drop, _ in indexes])
        try:
            yield
        finally:
            if pipelined:
                try:
                    self.writer.drain()
                except WriterError as exc:
                    self.index_cache.clear()  # it already holds keys the writer failed to store
                    raise JobFailed(f"InternalServerError : {exc}") from None
                finally:
                    if indexes:
                        self.writer.submit([Statement(create, ()) for _, create in indexes])
            self.index_cache.trim()

    def _table_rows(self, plan: DmlPlan) -> int:
        return int(self.store.conn().execute(f"SELECT count(*) FROM {sql_name(plan.object.name)}").fetchone()[0])

    def _pipeline(self, plan: DmlPlan, rows: int, indexes: KeyIndexes) -> Reservations | None:
        """Counter reservations when the job runs pipelined (prepared here, written by the writer process).

        Only big jobs, and only when every key the job probes on its own object is held in a hash index
        kept current while batches are in flight (Id-keyed and delete jobs read the database and are
        safe as they are).
        """
        if rows < self.settings.in_memory_index_rows:
            return None
        own = plan.object
        keys = [plan.upsert_key] + [r.key for r in plan.relationships if r.target.name == own.name]
        keys += [c.field for c in plan.fields if c.field.unique]
        if any(k is not None and k.name != "Id" and not indexes.get(own, k).in_memory for k in keys):
            return None
        counts = {}
        if plan.operation in ("insert", "upsert"):
            counts["id:" + plan.object.key_prefix] = rows
            counts.update({f"auto:{plan.object.name}.{f.name}": rows for f in plan.object.fields.values()
                           if f.auto_number})
        return Reservations(self.store, counts)

    def _context(self, job: Job, chunk: ParsedCsv, first_row: int, indexes: KeyIndexes,
                 deleted: set[str], locked: np.ndarray | None = None) -> DmlContext:
        lock_filter = self.faults.lock_filter_for(job.id, first_row,
                                                  [chunk.column(i) for i in range(len(chunk.headers))], chunk.row_count)
        if locked is not None and locked.size:
            lock_filter = _with_locked(lock_filter, locked, chunk.row_count)
        return DmlContext(self.store.conn(), job.created_by, format_datetime(now_utc()), indexes, lock_filter,
                          deleted=deleted)

    def _check_continue(self, job: Job, first: int, last: int) -> int:
        """Stop between batches when aborted; apply slow_ms; cut the batch at fail_job_after."""
        current = self.jobs.get(job.id)
        if current is None or current.state == "Aborted":
            raise JobAborted()
        spec = self.faults.spec
        if spec.slow_ms:
            time.sleep(spec.slow_ms / 1000)
        if spec.fail_job_after is not None:
            if first >= spec.fail_job_after:
                raise JobFailed(_fail_after_message(spec.fail_job_after))
            last = min(last, spec.fail_job_after)
        return last

    def _check_fail_after(self, processed: int, total: int) -> None:
        limit = self.faults.spec.fail_job_after
        if limit is not None and processed >= limit and processed < total:
            raise JobFailed(_fail_after_message(limit))

    def _finish(self, job: Job, state: str, started: float, progress: Progress, error: str | None = None,
                **values: object) -> None:
        counters = {"records_processed": progress.processed, "records_failed": progress.failed,
                    "total_processing_time": int((time.monotonic() - started) * 1000),
                    "api_active_processing_time": int(progress.active_seconds * 1000)}
        from_states = ["InProgress", "Aborted"] if state == "Aborted" else ["InProgress"]
        moved = self.jobs.transition(job.id, from_states, state, system_modstamp=stamp(), error_message=error,
                                     **counters, **values)
        if not moved:  # aborted meanwhile: keep Aborted, but record how far processing got
            self.jobs.update(job.id, **counters)
        self.jobs.clear_live(job.id)

    def fail_interrupted(self, job: Job) -> None:
        """A job left InProgress by a previous server process: fail it, listing what was not processed."""
        writer = IngestResultWriter(self.files, job)
        upload = self.files.path(job.id, UPLOAD)
        try:
            parsed = parse_csv(upload.read_bytes() if upload.exists() else b"", job.column_delimiter,
                               job.line_ending)
            writer.unprocessed(parsed.rows(job.records_processed, parsed.row_count))
            job.header_line = parsed.header_line
        except CsvInputError:
            pass
        self.jobs.update(job.id, state="Failed", system_modstamp=stamp(), header_line=job.header_line,
                         error_message="InternalServerError : the server stopped while the job was in progress")


class JobAborted(Exception):
    pass


def _with_locked(lock_filter: Callable[[np.ndarray], np.ndarray] | None, locked: np.ndarray,
                 rows: int) -> Callable[[np.ndarray], np.ndarray]:
    """A lock filter that also fails the `locked` row positions (pacing's contention)."""
    mask = np.zeros(rows, dtype=bool)
    mask[locked] = True

    def combined(candidates: np.ndarray) -> np.ndarray:
        hit = mask[candidates]
        return hit | lock_filter(candidates) if lock_filter is not None else hit

    return combined


def _fail_after_message(limit: int) -> str:
    return (f"InternalServerError : Failed to process the job after {limit} records: retried more than "
            f"10 times (injected fault fail_job_after={limit})")
