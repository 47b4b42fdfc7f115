"""Processing one Bulk API 1.0 query batch on the query thread, and PK chunking (reference §6.9).

A query batch's SOQL is compiled by the local org's SOQL engine and run in one read transaction (a
WAL snapshot), writing one result set in the job's format. What Bulk query refuses fails the batch
with Salesforce's texts: a root object other than the job's (``INVALID_TYPE_FOR_OPERATION``),
aggregates, OFFSET, and SOQL errors (``InvalidBatch : Failed to process query: CODE: ...``).

With ``Sforce-Enable-PKChunking`` on the job, the posted batch becomes NotProcessed and one batch per
Id range is queued in its place: boundaries are every chunkSize-th record Id of the object (from
startRow), so the ranges partition the Id space and the chunks' results together are exactly the
query's rows. A chunk's request is the original SOQL followed by ``WHERE Id >= '<lo>' AND Id < '<hi>'``
(``AND`` when the query has a WHERE clause), with 15-character bounds. A query with ORDER BY, LIMIT
or OFFSET cannot be split: it runs unchunked in the original batch.
"""

from __future__ import annotations

import json
import sqlite3
import time

from .bulk1_batches import Batch, BatchStore
from .bulk1_ingest import BatchOutcome, failed
from .bulk1_jobs import PkChunking, pk_chunking_of
from .bulk1_results import EXTENSIONS, write_query_result
from .faults import Faults
from .ids import BASE62
from .ingest_processor import stamp
from .jobs import Job, JobFiles
from .soql import CompiledQuery, SoqlError, compile_query
from .soql.parser import parse_soql
from .store import Store, sql_name

CHUNK_PAYLOAD = "SOQL_CHUNK"


def result_file(batch_id: str, result_id: str, content_type: str) -> str:
    return f"{batch_id}-{result_id}.{EXTENSIONS[content_type]}"


def next_key(head: str) -> str:
    """The 15-character Id key right after `head` in Salesforce's (base-62, ASCII) order."""
    digits = list(head)
    for position in range(len(digits) - 1, -1, -1):
        value = BASE62.index(digits[position])
        if value < len(BASE62) - 1:
            digits[position] = BASE62[value + 1]
            return "".join(digits)
        digits[position] = BASE62[0]
    return "z" * len(head)


class Bulk1Query:
    def __init__(self, store: Store, files: JobFiles, batches: BatchStore, faults: Faults):
        self.store = store
        self.files = files
        self.batches = batches
        self.faults = faults
        self._snapshot_conn: sqlite3.Connection | None = None  # this worker's own: job updates use another

    def run(self, job: Job, batch: Batch) -> BatchOutcome:
        """Process `batch` (already InProgress). Must run on the query thread."""
        started = time.monotonic()
        if self.faults.spec.slow_ms:
            time.sleep(self.faults.spec.slow_ms / 1000)
        chunk = json.loads(batch.chunk) if batch.chunk else None
        soql = chunk["soql"] if chunk else batch.request_text or ""
        query = self._compile(job, soql)
        if isinstance(query, BatchOutcome):
            return query
        pk_chunking = pk_chunking_of(job)
        if chunk is not None:
            query = query.with_id_range(chunk["lo"], chunk["hi"])
        elif pk_chunking is not None and not (query.order_sql or query.limit is not None or query.offset is not None):
            return self._chunk(job, soql, pk_chunking)
        return self._execute(job, batch, query, started)

    def _compile(self, job: Job, soql: str) -> CompiledQuery | BatchOutcome:
        try:
            query = compile_query(soql, self.store.schema, include_deleted=job.operation == "queryAll")
        except SoqlError as exc:
            return failed(f"InvalidBatch : Failed to process query: {exc.error_code}: {exc.message.strip()}")
        if query.object_name != job.object:
            return failed(f"INVALID_TYPE_FOR_OPERATION: The root entity of the requested query ({query.object_name}) "
                          f"does not match the entity of the requested Bulk API Job ({job.object})")
        if query.is_count or query.has_aggregate:
            return failed("InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: Aggregate queries "
                          "(COUNT(), SUM(), GROUP BY, ...) are not supported by Bulk API query")
        if query.children:
            return failed("FeatureNotEnabled : Aggregate Relationships not supported in Bulk Query with "
                          f"{job.content_type} content type")
        if query.uses_typeof:
            return failed("InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: TYPEOF is not "
                          "supported by Bulk API query")
        if query.uses_offset:
            return failed("InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: OFFSET is not "
                          "supported by Bulk API query")
        binary = self._binary_field(soql, job.object)
        if binary:
            return failed(f"InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: {binary} is a binary "
                          f"field, which Bulk API query does not return; read it at "
                          f"/services/data/vXX.X/sobjects/{job.object}/<Id>/{binary}")
        return query

    def _binary_field(self, soql: str, object_name: str) -> str | None:
        """A base64 field of the root object in the SELECT list (its value would come back empty)."""
        obj = self.store.schema.get(object_name)
        tree = parse_soql(soql)
        qualifiers = {object_name.lower(), (tree.alias or object_name).lower()}
        for item in tree.select:
            parts = getattr(item, "parts", None)
            if not parts or len(parts) > 2 or (len(parts) == 2 and parts[0].lower() not in qualifiers):
                continue
            field = obj.field(parts[-1]) if obj is not None else None
            if field is not None and field.type == "base64":
                return field.name
        return None

    def _snapshot(self) -> sqlite3.Connection:
        if self._snapshot_conn is None:
            self._snapshot_conn = self.store.connect()
        return self._snapshot_conn

    def _execute(self, job: Job, batch: Batch, query: CompiledQuery, started: float) -> BatchOutcome:
        with self.store.transaction() as conn:
            result_id = self.store.allocate_ids(conn, "752", 1)[0]
        path = self.files.path(job.id, result_file(batch.id, result_id, job.content_type))
        conn = self._snapshot()
        conn.execute("BEGIN")  # one snapshot for the whole result set
        try:
            rows = write_query_result(path, query, conn, job.content_type, job.api_version)
        finally:
            conn.execute("COMMIT")
        return BatchOutcome("Completed", None, rows, 0, int((time.monotonic() - started) * 1000), [result_id])

    def _chunk(self, job: Job, soql: str, options: PkChunking) -> BatchOutcome:
        """Queue one batch per Id range in place of the original batch, which becomes NotProcessed."""
        if options.parent and options.parent != job.object:
            return failed(f"InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: PK chunking with "
                          f"parent={options.parent} applies to sharing and history objects of {options.parent}; "
                          f"the local org has none")
        ranges = self._ranges(job.object, options)
        keyword = "AND" if parse_soql(soql).where is not None else "WHERE"
        requests: list[str | None] = [f"{soql} {keyword} Id >= '{lo}' AND Id < '{hi}'" for lo, hi in ranges]
        chunks: list[str | None] = [json.dumps({"soql": soql, "lo": lo, "hi": hi}) for lo, hi in ranges]
        self.batches.add(job.id, CHUNK_PAYLOAD, stamp(), requests, chunks)
        return BatchOutcome("NotProcessed", spawned=len(ranges))

    def _ranges(self, object_name: str, options: PkChunking) -> list[tuple[str, str]]:
        obj = self.store.schema.get(object_name)
        assert obj is not None
        table = sql_name(obj.name)
        start = options.startRow or ""
        conn = self._snapshot()
        bounds = [row[0][:15] for row in conn.execute(
            f'SELECT "Id" FROM (SELECT "Id", row_number() OVER (ORDER BY "Id") AS n FROM {table} WHERE "Id" >= ?) '
            f"WHERE (n - 1) % ? = 0", (start, options.chunkSize))]
        last = conn.execute(f'SELECT max("Id") FROM {table}').fetchone()[0]
        first = start[:15] if start else (bounds[0] if bounds else obj.key_prefix + "0" * 12)
        lows = [first, *bounds[1:]]  # bounds[0] is the first record at or after `first`
        end = next_key(max(last[:15], lows[-1]) if last else lows[-1])
        return list(zip(lows, [*lows[1:], end], strict=True))
