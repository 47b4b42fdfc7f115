"""Bulk API 1.0 batches as rows of ``_bulk1_batches``, their state machine and their batchInfo.

A batch is Queued when added, InProgress while a worker runs it, then Completed or Failed; Queued
batches of an aborted job, and the original batch of a PK-chunked query, become NotProcessed (§6.6).
State changes are compare-and-set updates, so an abort on an API thread and a worker finishing a
batch never overwrite each other. Every change wakes the threads waiting in `wait_for_change`.
The request payload and the results live in files in the job's folder (`JobFiles`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from .bulk1_xml import xml_datetime
from .store import Store

DDL = (
    """CREATE TABLE IF NOT EXISTS _bulk1_batches (
        id TEXT PRIMARY KEY, job_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
        state_message TEXT, created_date TEXT NOT NULL, system_modstamp TEXT NOT NULL,
        records_processed INTEGER NOT NULL DEFAULT 0, records_failed INTEGER NOT NULL DEFAULT 0,
        total_processing_time INTEGER NOT NULL DEFAULT 0, api_active_processing_time INTEGER NOT NULL DEFAULT 0,
        payload_type TEXT NOT NULL, request_text TEXT, result_ids TEXT, chunk TEXT)""",
    "CREATE INDEX IF NOT EXISTS _bulk1_batches_by_job ON _bulk1_batches (job_id, seq)",
    "CREATE INDEX IF NOT EXISTS _bulk1_batches_by_state ON _bulk1_batches (state, created_date)",
)
TERMINAL = frozenset({"Completed", "Failed", "NotProcessed"})


@dataclass
class Batch:
    id: str
    job_id: str
    seq: int
    state: str
    state_message: str | None
    created_date: str
    system_modstamp: str
    records_processed: int
    records_failed: int
    total_processing_time: int
    api_active_processing_time: int
    payload_type: str  # the job's content type (CSV, XML, JSON, ZIP_CSV, ...) or SOQL
    request_text: str | None  # a query batch's SOQL (a PK chunk's includes its Id range)
    result_ids: str | None  # JSON list of a query batch's result-set ids
    chunk: str | None = None  # a PK chunk's JSON {"soql", "lo", "hi"}: the original query and its Id range

    @property
    def results(self) -> list[str]:
        return json.loads(self.result_ids) if self.result_ids else []

    def info(self, fmt: str) -> list[tuple[str, Any]]:
        """batchInfo fields in XSD order (§6.5); dates in the format's form."""
        stamp = xml_datetime if fmt == "xml" else str
        values: list[tuple[str, Any]] = [("id", self.id), ("jobId", self.job_id), ("state", self.state)]
        if self.state_message:
            values.append(("stateMessage", self.state_message))
        return [*values, ("createdDate", stamp(self.created_date)), ("systemModstamp", stamp(self.system_modstamp)),
                ("numberRecordsProcessed", self.records_processed), ("numberRecordsFailed", self.records_failed),
                ("totalProcessingTime", self.total_processing_time),
                ("apiActiveProcessingTime", self.api_active_processing_time), ("apexProcessingTime", 0)]


_COLUMNS = tuple(f.name for f in fields(Batch))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM _bulk1_batches"


@dataclass(frozen=True)
class JobCounts:
    """What a jobInfo reports about its batches."""

    queued: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    total: int = 0
    records_processed: int = 0
    records_failed: int = 0
    total_processing_time: int = 0
    api_active_processing_time: int = 0


class BatchStore:
    def __init__(self, store: Store):
        self.store = store
        self._changed = threading.Condition()
        with store.transaction() as conn:
            for statement in DDL:
                conn.execute(statement)

    def add(self, job_id: str, payload_type: str, created: str, requests: list[str | None],
            chunks: list[str | None] | None = None) -> list[Batch]:
        """New Queued batches (one per request text; several at once for PK chunks), numbered after the
        job's existing ones."""
        with self.store.transaction() as conn:
            ids = self.store.allocate_ids(conn, "751", len(requests))
            (last,) = conn.execute("SELECT coalesce(max(seq), 0) FROM _bulk1_batches WHERE job_id = ?",
                                   (job_id,)).fetchone()
            batches = [Batch(batch_id, job_id, last + 1 + n, "Queued", None, created, created, 0, 0, 0, 0,
                             payload_type, request, None, chunks[n] if chunks else None)
                       for n, (batch_id, request) in enumerate(zip(ids, requests, strict=True))]
            conn.executemany(f"INSERT INTO _bulk1_batches ({', '.join(_COLUMNS)}) VALUES "
                             f"({', '.join('?' * len(_COLUMNS))})",
                             [tuple(getattr(b, c) for c in _COLUMNS) for b in batches])
        self._notify()
        return batches

    def get(self, batch_id: str) -> Batch | None:
        row = self.store.conn().execute(f"{_SELECT} WHERE id = ?", (batch_id,)).fetchone()
        return Batch(*row) if row else None

    def of_job(self, job_id: str) -> list[Batch]:
        rows = self.store.conn().execute(f"{_SELECT} WHERE job_id = ? ORDER BY seq", (job_id,)).fetchall()
        return [Batch(*row) for row in rows]

    def next_queued(self, job_id: str) -> Batch | None:
        """The job's first Queued batch in submission order: Serial jobs run strictly in this order."""
        row = self.store.conn().execute(f"{_SELECT} WHERE job_id = ? AND state = 'Queued' ORDER BY seq LIMIT 1",
                                        (job_id,)).fetchone()
        return Batch(*row) if row else None

    def in_state(self, state: str) -> list[Batch]:
        rows = self.store.conn().execute(f"{_SELECT} WHERE state = ? ORDER BY created_date, seq",
                                         (state,)).fetchall()
        return [Batch(*row) for row in rows]

    def transition(self, batch_id: str, from_states: Iterable[str], to_state: str, **values: object) -> bool:
        allowed = list(from_states)
        assignments = ", ".join(["state = ?", *(f"{name} = ?" for name in values)])
        with self.store.transaction() as conn:
            moved = conn.execute(f"UPDATE _bulk1_batches SET {assignments} WHERE id = ? AND state IN "
                                 f"({', '.join('?' * len(allowed))})",
                                 [to_state, *values.values(), batch_id, *allowed]).rowcount == 1
        if moved:
            self._notify()
        return moved

    def not_processed(self, job_id: str, stamp: str) -> int:
        """Queued batches of an aborted job never run."""
        with self.store.transaction() as conn:
            count = conn.execute("UPDATE _bulk1_batches SET state = 'NotProcessed', system_modstamp = ? "
                                 "WHERE job_id = ? AND state = 'Queued'", (stamp, job_id)).rowcount
        self._notify()
        return count

    def counts(self, job_id: str) -> JobCounts:
        rows = self.store.conn().execute(
            "SELECT state, count(*), sum(records_processed), sum(records_failed), sum(total_processing_time), "
            "sum(api_active_processing_time) FROM _bulk1_batches WHERE job_id = ? GROUP BY state",
            (job_id,)).fetchall()
        by_state = {row[0]: row[1] for row in rows}
        return JobCounts(queued=by_state.get("Queued", 0), in_progress=by_state.get("InProgress", 0),
                         completed=by_state.get("Completed", 0), failed=by_state.get("Failed", 0),
                         total=sum(by_state.values()), records_processed=sum(r[2] or 0 for r in rows),
                         records_failed=sum(r[3] or 0 for r in rows),
                         total_processing_time=sum(r[4] or 0 for r in rows),
                         api_active_processing_time=sum(r[5] or 0 for r in rows))

    def created_since(self, since: str) -> int:
        """Batches added since `since` (stored date form): each counts toward DailyBulkApiBatches."""
        return int(self.store.conn().execute("SELECT count(*) FROM _bulk1_batches WHERE created_date >= ?",
                                             (since,)).fetchone()[0])

    # -- waiting -------------------------------------------------------------------------------------------
    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_for_change(self, batch_id: str, timeout: float) -> Batch | None:
        """The batch once it is done, or as it is after `timeout` seconds.

        A poll that arrives while a small batch is still running answers when it finishes: clients
        such as simple-salesforce otherwise sleep seconds between polls of a batch that takes ms.
        """
        deadline = time.monotonic() + timeout
        with self._changed:  # read under the lock: a change cannot slip in between the read and the wait
            batch = self.get(batch_id)
            while batch is not None and batch.state not in TERMINAL:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
                batch = self.get(batch_id)
        return batch
