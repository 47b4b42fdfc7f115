"""Bulk jobs as records in the ``_jobs`` table, their state machine, and their files on disk.

A job row holds what JobInfo reports; state changes are compare-and-set updates so an API thread
(PATCH Aborted) and the worker (InProgress -> JobComplete) never overwrite each other. Uploaded
data and result files live in a directory per job beside the database.

Those files can outlive the database (someone deletes only the ``.db``): the Id counters of a new
database would then hand out old job Ids, and a new job would find an old job's results in its
folder. So at start the counters are raised past every Id named on disk (`JobFiles.ids_in_use`), and a
new job Id is only taken once its folder has been created afresh (`JobStore.new_id`).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .ids import id_counter
from .store import Store

JOB_PREFIX = "750"
_ID_IN_NAME = re.compile(r"[0-9A-Za-z]{18}")

TERMINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})


@dataclass
class Job:
    id: str
    api: str  # "ingest" or "query": which list the job appears in
    job_type: str  # V2Ingest, V2Query, Classic
    operation: str
    object: str
    state: str
    api_version: str
    created_by: str
    created_date: str
    system_modstamp: str
    external_id_field: str | None = None
    assignment_rule_id: str | None = None
    concurrency_mode: str = "Parallel"
    content_type: str = "CSV"
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    records_processed: int = 0
    records_failed: int = 0
    retries: int = 0
    total_processing_time: int = 0
    api_active_processing_time: int = 0
    apex_processing_time: int = 0
    error_message: str | None = None
    query: str | None = None
    upload_count: int = 0
    upload_bytes: int = 0
    header_line: str | None = None
    result_columns: str | None = None  # JSON list: query result column names
    extra: str | None = None  # JSON object for API-specific details (e.g. Bulk 1.0)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


_COLUMNS = tuple(f.name for f in fields(Job))


class JobStore:
    """Jobs in the ``_jobs`` table, plus the live progress of jobs being processed.

    Progress counters change after every batch; they are kept in memory while a job runs (writing
    them would wait on the batch writer's transaction) and stored when it finishes.
    """

    def __init__(self, store: Store, files: JobFiles):
        self.store = store
        self.files = files
        self._live: dict[str, dict[str, object]] = {}
        self._live_lock = threading.Lock()

    def set_live(self, job_id: str, **values: object) -> None:
        with self._live_lock:
            self._live.setdefault(job_id, {}).update(values)

    def clear_live(self, job_id: str) -> None:
        with self._live_lock:
            self._live.pop(job_id, None)

    def _conn(self) -> sqlite3.Connection:
        return self.store.conn()

    def new_id(self) -> str:
        """A job Id (Bulk 2.0 or 1.0) whose folder did not exist before: never one with old files in it."""
        while True:
            with self.store.transaction() as conn:
                job_id = self.store.allocate_ids(conn, JOB_PREFIX, 1)[0]
            if self.files.claim(job_id):
                return job_id

    def create(self, job: Job) -> None:
        row = {k: v for k, v in asdict(job).items() if k in _COLUMNS}
        with self.store.transaction(self._conn()) as conn:
            conn.execute(f"INSERT INTO _jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))

    def get(self, job_id: str, api: str | None = None) -> Job | None:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM _jobs WHERE id = ?"
        params: list[object] = [job_id]
        if api is not None:
            sql += " AND api = ?"
            params.append(api)
        row = self._conn().execute(sql, params).fetchone()
        if row is None:
            return None
        job = Job(**dict(zip(_COLUMNS, row, strict=True)))
        live = self._live.get(job.id)
        if live and not job.terminal:
            for name, value in live.items():
                setattr(job, name, value)
        return job

    def update(self, job_id: str, **values: object) -> None:
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self.store.transaction(self._conn()) as conn:
            conn.execute(f"UPDATE _jobs SET {assignments} WHERE id = ?", [*values.values(), job_id])

    def transition(self, job_id: str, from_states: Iterable[str], to_state: str, **values: object) -> bool:
        """Move the job to `to_state` only if it is in one of `from_states`; True when it moved."""
        allowed = list(from_states)
        assignments = ", ".join(["state = ?", *(f"{name} = ?" for name in values)])
        with self.store.transaction(self._conn()) as conn:
            cursor = conn.execute(
                f"UPDATE _jobs SET {assignments} WHERE id = ? AND state IN ({', '.join('?' * len(allowed))})",
                [to_state, *values.values(), job_id, *allowed])
            return cursor.rowcount == 1

    def list(self, api: str, job_type: str | None, offset: int, limit: int,
             pk_chunked: bool = False) -> tuple[list[Job], bool]:
        """A page of jobs (oldest first) and whether more follow; `pk_chunked`: only PK-chunked (Bulk 1.0) ones."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM _jobs WHERE api = ?"
        params: list[object] = [api]
        if job_type:
            sql += " AND job_type = ?"
            params.append(job_type)
        if pk_chunked:
            sql += " AND job_type = 'Classic' AND json_extract(extra, '$.pkChunking') IS NOT NULL"
        sql += " ORDER BY created_date, id LIMIT ? OFFSET ?"
        rows = self._conn().execute(sql, [*params, limit + 1, offset]).fetchall()
        jobs = [Job(**dict(zip(_COLUMNS, row, strict=True))) for row in rows[:limit]]
        return jobs, len(rows) > limit

    def in_states(self, states: Iterable[str]) -> list[Job]:
        wanted = list(states)
        rows = self._conn().execute(f"SELECT {', '.join(_COLUMNS)} FROM _jobs WHERE state IN "
                                    f"({', '.join('?' * len(wanted))}) ORDER BY created_date", wanted).fetchall()
        return [Job(**dict(zip(_COLUMNS, row, strict=True))) for row in rows]

    def delete(self, job_id: str) -> None:
        with self.store.transaction(self._conn()) as conn:
            conn.execute("DELETE FROM _jobs WHERE id = ?", (job_id,))


class JobFiles:
    """``<root>/<job id>/``: the upload and the result files of one job."""

    def __init__(self, root: Path):
        self.root = root

    def claim(self, job_id: str) -> bool:
        """Create the job's folder; False when it already exists (the Id was used by an older database)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            (self.root / job_id).mkdir()
        except FileExistsError:
            return False
        return True

    def ids_in_use(self) -> dict[str, int]:
        """The counter after the highest local-org Id per key prefix that names a job folder or one of its
        files (jobs 750, Bulk 1.0 batches 751 and result sets 752), as `Store.raise_counters` takes it."""
        floors: dict[str, int] = {}
        if not self.root.is_dir():
            return floors
        names = []
        for folder in self.root.iterdir():
            names.append(folder.name)
            if folder.is_dir():
                names.extend(entry.name for entry in folder.iterdir())
        for name in names:
            for token in _ID_IN_NAME.findall(name):
                found = id_counter(token)
                if found is not None:
                    prefix, counter = found
                    key = "id:" + prefix
                    floors[key] = max(floors.get(key, 0), counter + 1)
        return floors

    def folder(self, job_id: str) -> Path:
        path = self.root / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, job_id: str, name: str) -> Path:
        return self.folder(job_id) / name

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.root / job_id, ignore_errors=True)
