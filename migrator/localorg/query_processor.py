"""Processing one Bulk 2.0 query job: run the compiled SOQL once, inside one read transaction.

The read transaction is a WAL snapshot: the rows written are the rows as they were when the job
started, whatever is loaded meanwhile, so result pages are stable.
"""

from __future__ import annotations

import json
import time

from .csvformat import DELIMITERS
from .ingest_processor import stamp
from .jobs import JobFiles, JobStore
from .query_results import CHUNK_ROWS, QueryResultWriter
from .soql import SoqlError, compile_query
from .store import Store


class QueryProcessor:
    def __init__(self, store: Store, jobs: JobStore, files: JobFiles):
        self.store = store
        self.jobs = jobs
        self.files = files
        self._snapshot_conn = None  # the worker thread's own connection: jobs updates use another

    def process(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None or not self.jobs.transition(job_id, ["UploadComplete"], "InProgress",
                                                   system_modstamp=stamp()):
            return
        started = time.monotonic()
        try:
            query = compile_query(job.query or "", self.store.schema, include_deleted=job.operation == "queryAll")
        except SoqlError as exc:
            self._finish(job_id, "Failed", started, 0, f"{exc.error_code} : {exc.message.strip()}")
            return
        writer = QueryResultWriter(self.files, job)
        if self._snapshot_conn is None:
            self._snapshot_conn = self.store.connect()
        conn = self._snapshot_conn
        aborted = False
        conn.execute("BEGIN")  # one snapshot for the whole result
        try:
            for lines in query.iter_csv_lines(conn, CHUNK_ROWS, DELIMITERS[job.column_delimiter]):
                writer.add_lines(lines)
                current = self.jobs.get(job_id)
                if current is None or current.state == "Aborted":
                    aborted = True
                    break
                self.jobs.set_live(job_id, records_processed=writer.rows, system_modstamp=stamp())
        finally:
            conn.execute("COMMIT")
            writer.close()
        self.jobs.update(job_id, result_columns=json.dumps(list(query.columns)), records_processed=writer.rows)
        self.jobs.clear_live(job_id)
        if not aborted:
            self._finish(job_id, "JobComplete", started, writer.rows, None)

    def _finish(self, job_id: str, state: str, started: float, rows: int, error: str | None) -> None:
        elapsed = int((time.monotonic() - started) * 1000)
        self.jobs.transition(job_id, ["InProgress"], state, records_processed=rows, total_processing_time=elapsed,
                             api_active_processing_time=elapsed, system_modstamp=stamp(), error_message=error)
