"""Processing one Bulk API 1.0 ingest batch on the DML thread, through the same DML engine as Bulk 2.0.

The payload (CSV, XML, JSON, or a ZIP of one of them with binary files) becomes a header and text
columns (bulk1_records), the engine validates and writes them in one transaction, and the per-row
results are stored in input order. What fails the whole batch (state Failed, stateMessage): an
unreadable payload, more records than a batch takes, a header naming an unknown field
(``InvalidBatch : Field name not found : X``) and the injected ``fail_job_after`` fault. Rows fail
one by one with Salesforce's errors, ``UNABLE_TO_LOCK_ROW`` included when ``lock_rate`` is set: the
draw is salted with the batch id, so a row resent in a new batch draws again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import blobs
from .blobs import BinaryValueError
from .bulk1_batches import Batch, BatchStore
from .bulk1_records import BatchInputError, BatchRows, read_rows
from .bulk1_results import write_ingest_results
from .bulk1_zip import MissingBinary, ZipBatch, ZipLimits
from .dml_engine import BatchResult, DmlContext
from .dml_plan import DmlPlan, HeaderError, JobRequestError
from .dml_save import apply_batch
from .faults import Faults
from .ingest_processor import IngestProcessor
from .jobs import Job, JobFiles
from .settings import OrgSettings
from .store import format_datetime, now_utc

REQUEST_SUFFIX = {"CSV": "csv", "XML": "xml", "JSON": "json", "ZIP_CSV": "zip", "ZIP_XML": "zip", "ZIP_JSON": "zip",
                  "SOQL": "soql", "SOQL_CHUNK": "soql"}


def request_file(batch_id: str, payload_type: str) -> str:
    return f"{batch_id}-request.{REQUEST_SUFFIX[payload_type]}"


def results_file(batch_id: str) -> str:
    return f"{batch_id}-results.csv"


@dataclass
class BatchOutcome:
    state: str  # Completed, Failed or NotProcessed
    message: str | None = None
    processed: int = 0
    failed: int = 0
    active_ms: int = 0
    result_ids: list[str] = field(default_factory=list)
    spawned: int = 0  # PK chunk batches queued in this batch's place


def failed(message: str) -> BatchOutcome:
    return BatchOutcome("Failed", message)


class Bulk1Ingest:
    def __init__(self, processor: IngestProcessor, files: JobFiles, batches: BatchStore, faults: Faults,
                 settings: OrgSettings):
        self.processor = processor
        self.engine = processor.engine
        self.store = processor.store
        self.files = files
        self.batches = batches
        self.faults = faults
        self.settings = settings

    def run(self, job: Job, batch: Batch) -> BatchOutcome:
        """Process `batch` (already InProgress). Must run on the DML thread."""
        started = time.monotonic()
        if self.faults.spec.slow_ms:
            time.sleep(self.faults.spec.slow_ms / 1000)
        data = self.files.path(job.id, request_file(batch.id, batch.payload_type)).read_bytes()
        kind, resolve = batch.payload_type, blobs.decode_base64
        obj = self.store.schema.get(job.object)
        if obj is None:  # a schema file removed the object since the job was created
            return failed(f"InvalidBatch : Unable to find object: {job.object}")
        try:
            if kind.startswith("ZIP_"):
                archive = ZipBatch(data, ZipLimits(self.settings.bulk1_max_zip_files,
                                                   self.settings.bulk1_max_unzipped_bytes))
                data, kind, resolve = archive.request, kind[4:], _zip_resolver(archive)
            rows = read_rows(data, kind, obj)
        except BatchInputError as exc:
            return failed(exc.message)
        limit = self.settings.bulk1_max_batch_records
        if rows.row_count > limit:
            return failed(f"InvalidBatch : The batch has {rows.row_count:,} records; a batch takes at most "
                          f"{limit:,} records")
        try:
            plan = self.engine.prepare(job.object, job.operation, rows.headers, job.external_id_field)
        except (HeaderError, JobRequestError) as exc:
            return failed(exc.message)
        fail_after = self.faults.spec.fail_job_after
        if fail_after is not None and self.batches.counts(job.id).records_processed >= fail_after:
            return failed(f"InternalServerError : Failed to process the batch: retried more than 10 times "
                          f"(injected fault fail_job_after={fail_after})")
        try:
            result = self._save(job, batch, plan, rows, resolve)
        except BatchInputError as exc:  # the zip could not give a file it lists
            return failed(exc.message)
        finally:
            self.processor.index_cache.trim()
        write_ingest_results(self.files.path(job.id, results_file(batch.id)), result.ids, result.created,
                             result.errors)
        return BatchOutcome("Completed", None, rows.row_count, int(np.count_nonzero(~result.ok)),
                            int((time.monotonic() - started) * 1000))

    def _context(self, job: Job, batch: Batch, rows: BatchRows) -> DmlContext:
        """The engine's context; with lock_rate set, rows are drawn by position and content, salted by batch."""
        lock_filter = self.faults.lock_filter_for(batch.id, 0, rows.columns, rows.row_count)
        return DmlContext(self.store.conn(), job.created_by, format_datetime(now_utc()),
                          self.processor.indexes_for(rows.row_count), lock_filter)

    def _save(self, job: Job, batch: Batch, plan: DmlPlan, rows: BatchRows, resolve: blobs.Resolver) -> BatchResult:
        """One transaction per batch; the lock draw sees the rows the engine gets (binary failures taken out)."""
        with self.store.transaction(self.store.conn()):
            return apply_batch(self.engine, plan, rows.columns, rows.row_count,
                               lambda columns, size: self._context(job, batch, BatchRows(rows.headers, columns, size)),
                               resolve)


def _zip_resolver(archive: ZipBatch) -> blobs.Resolver:
    def resolve(cell: str) -> bytes:
        try:
            return archive.binary(cell)
        except MissingBinary as exc:
            raise BinaryValueError("INVALID_FIELD", str(exc)) from None

    return resolve
