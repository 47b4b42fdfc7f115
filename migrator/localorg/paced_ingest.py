"""The pacing driver: feeds real arrivals to the `PaceModel` and runs its chunks when their time comes.

One timer thread processes the model's events in virtual-time order (job starts, chunk ends); the
virtual clock runs `speed` times faster than the monotonic clock from the moment pacing was set. A
job is taken up (InProgress) and parsed on the org's DML thread when it starts, each chunk's DML
runs there when the chunk ends, and the job completes after its last chunk; the DML thread works in
order, so a job replacing another in its slot shows InProgress only once the other is complete.
Chunk times follow the model's schedule, not the DML thread's real speed (a busy DML thread only
delays events, in order), so the only input that depends on the wall clock is when jobs arrive:
the same arrivals give the same chunks and the same lock failures.

A changed spec applies to jobs closed after the change; jobs already paced finish under the old one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ingest_processor import IngestProcessor, OpenedJob
from .pacing import PaceModel, PaceSpec

log = logging.getLogger("migrator.localorg")


@dataclass
class _PacedJob:
    model: PaceModel
    opened: OpenedJob
    keys: list[np.ndarray]  # per lock column, the uint64 key of every row (0: names no parent)
    next_row: int = 0
    stopped: bool = False  # the DML ended the job early: later chunks are skipped


def lock_keys(opened: OpenedJob) -> list[np.ndarray]:
    """Per relationship or reference column, a 64-bit key for the parent each row names (0 for none).

    Parents are named by the key the row uses (``Account.Legacy_Id__c`` values, or Ids), folded to lower
    case like Salesforce's key matching, and salted with the object and key field so that keys of
    different objects never collide."""
    plan, parsed = opened.plan, opened.parsed
    columns = [(c.index, f"{c.target.name}.{c.key.name}") for c in plan.relationships]
    columns += [(c.index, "Id") for c in plan.fields if c.field.type == "reference"]
    keys = []
    for index, salt in columns:
        values = pd.Series(parsed.column(index).to_numpy(zero_copy_only=False), dtype="str").str.lower()
        hashed = pd.util.hash_pandas_object(salt + "\x1f" + values, index=False).to_numpy(dtype=np.uint64)
        keys.append(np.where((values != "").to_numpy(), np.maximum(hashed, 1), 0).astype(np.uint64))
    return keys


class PacedIngest:
    """Bulk 2.0 ingest jobs at a paced org's speed. `submit` takes a job when pacing is on."""

    def __init__(self, processor: IngestProcessor, on_dml_thread: Callable[[Callable[[], None]], None],
                 on_crash: Callable[[str, BaseException], None], spec: PaceSpec | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.processor = processor
        self.on_dml_thread = on_dml_thread
        self.on_crash = on_crash
        self.clock = clock
        self._cond = threading.Condition()
        self._events: list[tuple[float, int, Callable[[], None]]] = []  # (virtual time, seq, action)
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.spec = PaceSpec()
        self.model = PaceModel(self.spec)
        self._origin = clock()
        self._virtual_origin = 0.0
        self.set(spec)

    # --- configuration -------------------------------------------------------------------------------
    def set(self, spec: PaceSpec | Mapping[str, object] | str | None) -> PaceSpec:
        parsed = PaceSpec.coerce(spec)
        with self._cond:
            now = self._now()
            self.spec, self.model = parsed, PaceModel(parsed)
            self._origin, self._virtual_origin = self.clock(), now
        return parsed

    @property
    def active(self) -> bool:
        return self.spec.active

    def stats(self) -> dict[str, object]:
        with self._cond:
            return {**self.model.stats.as_dict(), "waiting": len(self.model.waiting)}

    def refuse_new_job(self) -> bool:
        """True when the org's job queue is over `queue_limit` (the caller answers REQUEST_LIMIT_EXCEEDED)."""
        with self._cond:
            return self.spec.active and self.model.over_queue_limit()

    # --- jobs ----------------------------------------------------------------------------------------
    def submit(self, job_id: str) -> bool:
        """Pace this UploadComplete job; False when pacing is off (the caller processes it at once)."""
        with self._cond:
            if not self.spec.active:
                return False
            self._ensure_thread()
            model = self.model
            model.arrive(job_id)
            self._admit(model, self._now())
            return True

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- the timer thread ------------------------------------------------------------------------------
    def _now(self) -> float:
        return self._virtual_origin + (self.clock() - self._origin) * self.spec.speed

    def _real_delay(self, at: float) -> float:
        return (at - self._now()) / self.spec.speed

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="localorg-pace", daemon=True)
            self._thread.start()

    def _schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (at, next(self._seq), action))
        self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (not self._events or self._real_delay(self._events[0][0]) > 0):
                    self._cond.wait(None if not self._events else max(self._real_delay(self._events[0][0]), 0.001))
                if self._closing:
                    return
                _, _, action = heapq.heappop(self._events)
            try:
                action()
            except Exception:  # a bug in one job must not stop the pacing of the others
                log.exception("pacing event failed")

    def _admit(self, model: PaceModel, at: float) -> None:
        for job_id, start in model.admit(at):
            self._schedule(start, lambda job_id=job_id, start=start: self._start(model, job_id, start))

    def _start(self, model: PaceModel, job_id: str, at: float) -> None:
        """The job's slot and latency are over: take it up (InProgress) and parse it on the DML thread,
        after every chunk queued before it, so that the job it replaces is JobComplete first."""
        taken = threading.Event()
        box: dict[str, OpenedJob | None] = {"opened": None}

        def take_up() -> None:
            try:
                box["opened"] = self.processor.open_job(job_id)
            except Exception as exc:  # a bug fails this job, never the pacing of the others
                log.exception("paced job %s failed to start", job_id)
                self.on_crash(job_id, exc)
            finally:
                taken.set()

        self.on_dml_thread(take_up)
        while not taken.wait(0.5):
            if self._closing:
                return
        opened = box["opened"]
        with self._cond:
            if opened is None:  # gone, aborted while queued, or failed on its upload: the slot is free
                self._end(model, job_id, at)
            else:
                self._next_chunk(_PacedJob(model, opened, lock_keys(opened)), at)

    def _next_chunk(self, paced: _PacedJob, at: float) -> None:
        """Ask the model for the next chunk's times. Called with the lock held, in virtual-time order.

        At the chunk's end its DML goes to the DML thread and the next chunk is asked for at once (or
        the job's slot freed): the model never waits for the DML, so its schedule depends on arrivals
        only. A job the DML ended early (aborted, failed) has its later chunks skipped."""
        total = paced.opened.parsed.row_count
        first = paced.next_row
        last = min(first + paced.model.spec.chunk, total)
        times = paced.model.begin_chunk(paced.opened.job.id, at, [k[first:last] for k in paced.keys], last - first)
        paced.next_row = last

        def ended() -> None:
            final = last >= total
            self.on_dml_thread(lambda: self._run_chunk(paced, first, last, times.locked_rows, final))
            with self._cond:
                if final or paced.stopped:
                    self._end(paced.model, paced.opened.job.id, times.end)
                else:
                    self._next_chunk(paced, times.end)

        self._schedule(times.end, ended)

    def _run_chunk(self, paced: _PacedJob, first: int, last: int, locked: np.ndarray, final: bool) -> None:
        """On the DML thread: apply the chunk, and complete the job after its last one."""
        if paced.stopped:
            return
        try:
            if not self.processor.run_chunk(paced.opened, first, last, locked):
                paced.stopped = True
            elif final:
                self.processor.complete_job(paced.opened)
        except Exception as exc:  # a bug fails this job, never the pacing of the others
            paced.stopped = True
            log.exception("paced job %s failed", paced.opened.job.id)
            self.on_crash(paced.opened.job.id, exc)

    def _end(self, model: PaceModel, job_id: str, at: float) -> None:
        """The job's slot is free at virtual time `at`. Called with the lock held."""
        model.finish(job_id)
        self._admit(model, at)
