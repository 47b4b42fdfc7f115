"""A running local org without its HTTP face: schema, store, jobs, sessions, faults, workers.

The HTTP apps (Bulk 2.0, Bulk 1.0 and REST) hold one LocalOrg and call into it. All DML
runs on one worker thread (the single writer of record tables, which is what lets the DML engine keep
hash indexes in step with the data); query jobs run on a second one so a long load does not hold
up extracts. Bulk 1.0 (``org.bulk1``) runs its ingest batches on the DML thread too and its query
batches on the query thread: ``org.ingest_worker.call(fn)`` runs `fn` there, and inside it
``DmlEngine.run_batch`` with ``org.ingest.indexes_for(rows)`` applies a batch of text columns with the
same semantics.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from .auth import Sessions
from .bulk1_service import Bulk1Service
from .certs import SigningKey, ensure_signing_key, public_key_pem
from .faults import Faults, FaultSpec
from .ingest_processor import IngestProcessor, stamp
from .jobs import Job, JobFiles, JobStore
from .orgschema import OrgSchema, load_schema
from .paced_ingest import PacedIngest
from .pacing import PaceSpec
from .query_processor import QueryProcessor
from .rest_query import RestQueries
from .settings import OrgSettings
from .sqlwriter import SqlWriter
from .store import Store

log = logging.getLogger("migrator.localorg")
T = TypeVar("T")


def warm_up() -> None:
    """pyarrow's first compute call imports pandas (~0.4 s): pay it at start, not in the first job."""
    pc.utf8_length(pa.array(["warm"]))


class JobWorker:
    """One background thread processing job ids in submission order."""

    def __init__(self, name: str, process: Callable[[str], None], on_crash: Callable[[str, BaseException], None]):
        self._queue: queue.Queue[str | Callable[[], None] | None] = queue.Queue()
        self._process = process
        self._on_crash = on_crash
        self._thread = threading.Thread(target=self._run, name=f"localorg-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def call(self, work: Callable[[], None]) -> None:
        """Run `work` on this worker's thread, in turn with the jobs."""
        self._queue.put(work)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if callable(item):
                try:
                    item()
                except Exception:  # the caller reports its own failures; the worker must live on
                    log.exception("work on the DML thread failed")
                continue
            try:
                self._process(item)
            except Exception as exc:  # a bug must fail the job, never kill the worker or hang the job
                log.exception("processing job %s failed", item)
                self._on_crash(item, exc)


class LocalOrg:
    def __init__(self, db_path: Path | str, schema_files: Iterable[Path | str] = (), *,
                 settings: OrgSettings | None = None, faults: FaultSpec | Mapping[str, object] | str | None = None,
                 token: str | None = None, schema: OrgSchema | None = None,
                 pace: PaceSpec | Mapping[str, object] | str | None = None):
        self.db_path = Path(db_path)
        self.settings = settings or OrgSettings()
        self.schema = schema or load_schema(schema_files)
        self.store = Store(self.db_path, self.schema)
        self.identity = self.store.initialize()
        self.files = JobFiles(self.db_path.parent / f"{self.db_path.stem}-jobs")
        self.store.raise_counters(self.files.ids_in_use())  # files may outlive a deleted database
        self.jobs = JobStore(self.store, self.files)
        self.faults = Faults(FaultSpec.coerce(faults))
        self.sessions = Sessions(self.store, self.identity, self.faults, fixed_token=token)
        self.writer = SqlWriter(self.db_path)
        self.ingest = IngestProcessor(self.store, self.jobs, self.files, self.faults, self.settings, self.writer)
        self.query = QueryProcessor(self.store, self.jobs, self.files)
        self.rest_queries = RestQueries(self.store)
        self.ingest_worker = JobWorker("ingest", self.ingest.process, self._crashed)
        self.query_worker = JobWorker("query", self.query.process, self._crashed)
        # Bulk 2.0 ingest jobs go through the pacer when pacing is on (pacing.py)
        self.pacer = PacedIngest(self.ingest, self.ingest_worker.call, self._crashed, PaceSpec.coerce(pace))
        self.bulk1 = Bulk1Service(self.store, self.files, self.jobs, self.ingest, self.faults, self.settings,
                                  on_ingest_thread=self.ingest_worker.call, on_query_thread=self.query_worker.call)
        self.key_folder = self.db_path.parent / f"{self.db_path.stem}-tls"  # TLS and connected-app keys
        self._signing_key: SigningKey | None = None
        self._key_lock = threading.Lock()
        self._usage_lock = threading.Lock()
        self._usage_day, self._usage = self._saved_usage()
        self._started = False

    @property
    def username(self) -> str:
        return self.identity.username

    @property
    def password(self) -> str:
        return self.identity.password

    @property
    def signing_key(self) -> SigningKey:
        """The org's own connected-app key pair (made on first use: a 2048-bit RSA key takes a moment)."""
        with self._key_lock:
            if self._signing_key is None:
                self._signing_key = ensure_signing_key(self.key_folder)
            return self._signing_key

    def jwt_verification_key(self) -> str:
        """The public key JWT bearer assertions must be signed for: the configured one, else the org's own."""
        configured = self.settings.jwt_public_key
        return public_key_pem(configured) if configured else self.signing_key.public_key_pem()

    def start(self) -> None:
        """Start the workers and pick up jobs a previous process left behind."""
        if self._started:
            return
        self._started = True
        warm_up()
        for job in self.jobs.in_states(["InProgress"]):
            if job.api == "ingest":
                self.ingest.fail_interrupted(job)
            else:
                self.jobs.update(job.id, state="UploadComplete")
        self.bulk1.recover()
        self.ingest_worker.start()
        self.query_worker.start()
        for job in self.jobs.in_states(["UploadComplete"]):
            self.submit(job)

    def submit(self, job: Job) -> None:
        if job.api == "ingest" and job.job_type == "V2Ingest" and self.pacer.submit(job.id):
            return
        (self.query_worker if job.api == "query" else self.ingest_worker).submit(job.id)

    def on_dml_thread(self, work: Callable[[], T]) -> Future[T]:
        """Run `work` on the DML thread, the single writer of record tables (REST writes go there so
        the key indexes stay in step with the data), in turn with the jobs; its result or exception
        arrives in the future."""
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to the caller, never lost in the worker
                future.set_exception(exc)

        self.ingest_worker.call(run)
        return future

    def close(self) -> None:
        self.pacer.close()
        self._save_usage()
        self.ingest_worker.stop()
        self.query_worker.stop()
        self.writer.close()
        self.rest_queries.close()
        self.store.close()

    def count_call(self) -> int:
        """Meter one API call (DailyApiRequests); returns the calls made today."""
        with self._usage_lock:
            today = datetime.now(UTC).date()
            if today != self._usage_day:
                self._usage_day, self._usage = today, 0
            self._usage += 1
            return self._usage

    @property
    def api_usage(self) -> int:
        """API calls made today (UTC), restarts included: /limits reports DailyApiRequests from it."""
        with self._usage_lock:
            if datetime.now(UTC).date() != self._usage_day:
                return 0
            return self._usage

    def _saved_usage(self) -> tuple[date, int]:
        today = datetime.now(UTC).date()
        saved = dict(self.store.conn().execute("SELECT key, value FROM _org WHERE key IN ('usage_day', 'usage')"))
        if saved.get("usage_day") == today.isoformat():
            return today, int(saved.get("usage", 0))
        return today, 0

    def _save_usage(self) -> None:
        try:
            with self.store.transaction() as conn:
                conn.executemany("INSERT OR REPLACE INTO _org (key, value) VALUES (?, ?)",
                                 [("usage_day", self._usage_day.isoformat()), ("usage", str(self._usage))])
        except Exception:  # pragma: no cover - the database itself is failing at shutdown
            log.exception("could not save today's API usage")

    def jobs_since(self, hours: int = 24) -> list[Job]:
        since = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")
        rows = self.store.conn().execute("SELECT id FROM _jobs WHERE created_date >= ?", (since,)).fetchall()
        return [job for (job_id,) in rows if (job := self.jobs.get(job_id)) is not None]

    def _crashed(self, job_id: str, exc: BaseException) -> None:
        self.ingest.index_cache.clear()  # a batch may have stopped half way through keeping it current
        try:
            self.jobs.transition(job_id, ["UploadComplete", "InProgress"], "Failed", system_modstamp=stamp(),
                                 error_message=f"InternalServerError : {type(exc).__name__}: {exc}")
        except Exception:  # pragma: no cover - the database itself is failing
            log.exception("could not mark job %s failed", job_id)
