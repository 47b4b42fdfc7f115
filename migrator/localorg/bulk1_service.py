"""Bulk API 1.0 in a running org: adding batches and running them on the org's worker threads.

Batches run as soon as they are queued, whether the job is still Open or not (§6.1). Ingest batches
run on the DML thread (the single writer of record tables, shared with Bulk 2.0 jobs), query
batches on the query thread. Each queued batch puts one "run the job's next batch" item on its
worker, and the item takes the job's lowest-numbered Queued batch: whatever order API threads
enqueue in, a job's batches run in submission order, which is what Serial jobs promise (Parallel
jobs may interleave with other jobs, and do). A failure inside a batch fails that batch only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import partial

from . import blobs
from .bulk1_batches import Batch, BatchStore
from .bulk1_ingest import BatchOutcome, Bulk1Ingest, request_file
from .bulk1_query import Bulk1Query
from .faults import Faults
from .ingest_processor import IngestProcessor, stamp
from .jobs import Job, JobFiles, JobStore
from .settings import OrgSettings
from .store import Store

log = logging.getLogger("migrator.localorg")


Schedule = Callable[[Callable[[], None]], None]
"""Runs a piece of work on one of the org's worker threads, in turn with its jobs."""


class Bulk1Service:
    """Given the org's parts rather than the org, so that the org can own it without a cycle."""

    def __init__(self, store: Store, files: JobFiles, jobs: JobStore, ingest: IngestProcessor, faults: Faults,
                 settings: OrgSettings, *, on_ingest_thread: Schedule, on_query_thread: Schedule):
        self.files, self.jobs, self.processor = files, jobs, ingest
        self.on_ingest_thread, self.on_query_thread = on_ingest_thread, on_query_thread
        self.batches = BatchStore(store)
        blobs.ensure_table(store)
        self.ingest = Bulk1Ingest(ingest, files, self.batches, faults, settings)
        self.query = Bulk1Query(store, files, self.batches, faults)

    def add_batch(self, job: Job, payload: bytes, payload_type: str, request_text: str | None = None) -> Batch:
        """Queue a batch (its payload saved first) and hand it to the job's worker."""
        (batch,) = self.batches.add(job.id, payload_type, stamp(), [request_text])
        if request_text is None:
            self.files.path(job.id, request_file(batch.id, payload_type)).write_bytes(payload)
        self._submit(job, 1)
        return batch

    def recover(self) -> None:
        """At start: batches a previous process left running. A query batch runs again; an ingest batch
        may have been saved already, so it fails rather than risk saving twice. Queued ones are queued."""
        for batch in self.batches.in_state("InProgress"):
            job = self.jobs.get(batch.job_id)
            if job is not None and job.api == "query":
                self.batches.transition(batch.id, ["InProgress"], "Queued")
            else:
                self.batches.transition(batch.id, ["InProgress"], "Failed", system_modstamp=stamp(),
                                        state_message="InternalServerError : the server stopped while the batch "
                                                      "was in progress")
        for batch in self.batches.in_state("Queued"):
            job = self.jobs.get(batch.job_id)
            if job is not None:
                self._submit(job, 1)

    def _submit(self, job: Job, count: int) -> None:
        schedule = self.on_query_thread if job.api == "query" else self.on_ingest_thread
        for _ in range(count):
            schedule(partial(self._run_next, job.id))

    def _run_next(self, job_id: str) -> None:
        """On the worker thread: run the job's first Queued batch, if any (an abort may have taken it)."""
        job = self.jobs.get(job_id)
        batch = self.batches.next_queued(job_id) if job is not None else None
        if job is None or batch is None:
            return
        if not self.batches.transition(batch.id, ["Queued"], "InProgress", system_modstamp=stamp()):
            return
        started = time.monotonic()
        try:
            outcome = (self.query if job.api == "query" else self.ingest).run(job, batch)
        except Exception as exc:  # a bug fails this batch, never the worker or other batches
            log.exception("Bulk API 1.0 batch %s of job %s failed", batch.id, job.id)
            if job.api != "query":
                self.processor.index_cache.clear()  # the batch may have stopped half way through keeping it
            outcome = BatchOutcome("Failed", f"InternalServerError : {type(exc).__name__}: {exc}")
        elapsed = int((time.monotonic() - started) * 1000)
        self.batches.transition(batch.id, ["InProgress"], outcome.state, system_modstamp=stamp(),
                                state_message=outcome.message, records_processed=outcome.processed,
                                records_failed=outcome.failed, total_processing_time=elapsed,
                                api_active_processing_time=outcome.active_ms or elapsed,
                                result_ids=json.dumps(outcome.result_ids) if outcome.result_ids else None)
        if outcome.spawned:
            self._submit(job, outcome.spawned)

    def batches_since(self, hours: int = 24) -> int:
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - hours * 3600))
        return self.batches.created_since(since)
