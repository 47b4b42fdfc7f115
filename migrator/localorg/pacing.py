"""Pacing: make the local org process Bulk API 2.0 ingest jobs at Salesforce's pace, deterministically.

Off by default (the local org then ingests as fast as it can). A spec is a compact string
(``production,speed=5,seed=7`` or ``rate=1000,max_jobs=5,latency_ms=2000``) or the same keys as a
dict / JSON object; a bare name picks a preset whose values the other items override:

- ``rate``: records per second per job; a job is processed in chunks of ``chunk`` records, one after
  another, each taking ``chunk / rate`` seconds;
- ``max_jobs``: jobs processed at once per org; the others wait in ``UploadComplete``;
- ``latency_ms`` + ``jitter_ms``: how long a job waits, once it has a slot, before it is taken up
  (``InProgress``): a fixed part plus a seeded draw in ``[0, jitter_ms)``;
- ``lock_wait_ms``: lock contention. A chunk locks the parents its rows name (the account of a
  contact, the parent of an account) from the moment it asks until it ends. A row whose parent is
  locked by a chunk of another job waits for it, up to ``lock_wait_ms`` (Salesforce waits about
  10 s); if that chunk is still running then, the row fails with ``UNABLE_TO_LOCK_ROW``. ``locks=0``
  turns contention off;
- ``queue_limit``: with that many jobs already waiting for a slot, creating another ingest job
  answers 403 ``REQUEST_LIMIT_EXCEEDED`` (an org telling a client to slow down);
- ``speed``: runs the whole model this many times faster than real time (benchmarks, tests);
- ``seed``: seed of the jitter draws.

`PaceModel` is the pure part: virtual time in seconds, no threads, no clock. Given the same arrivals
at the same virtual times it gives the same slots, the same chunk times and the same lock failures;
the server's driver (`paced_ingest.py`) feeds it real arrivals, scaled by ``speed``.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np


class PaceSpecError(ValueError):
    pass


@dataclass(frozen=True)
class PaceSpec:
    rate: float = 0.0  # records per second per job; 0: as fast as the local org goes
    chunk: int = 10_000
    max_jobs: int = 0  # jobs processed at once; 0: no cap
    latency_ms: int = 0
    jitter_ms: int = 0
    lock_wait_ms: int = 10_000
    locks: bool = True
    queue_limit: int = 0  # 0: no limit
    speed: float = 1.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.rate or self.max_jobs or self.latency_ms or self.jitter_ms or self.queue_limit)

    @classmethod
    def parse(cls, text: str) -> PaceSpec:
        base: PaceSpec | None = None
        values: dict[str, str] = {}
        for item in (p.strip() for p in text.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            if sep:
                values[name.strip()] = value.strip()
            elif name in PRESETS and base is None:
                base = PRESETS[name]
            else:
                known = ", ".join(PRESETS)
                raise PaceSpecError(f"pace spec item {item!r} is neither name=value nor a preset ({known})")
        return cls.from_mapping(values, base=base)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object], *, base: PaceSpec | None = None) -> PaceSpec:
        values = dict(values)
        preset = values.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise PaceSpecError(f"unknown pace preset {preset!r}; known: {', '.join(PRESETS)}")
            base = PRESETS[str(preset)]
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PaceSpecError(f"unknown pace setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        parsed: dict[str, object] = {}
        for name, raw in values.items():
            if raw is None:
                continue
            parsed[name] = _number(name, raw)
        spec = replace(base or cls(), **parsed)  # type: ignore[arg-type]
        if spec.chunk < 1:
            raise PaceSpecError("chunk must be at least 1")
        if spec.speed <= 0:
            raise PaceSpecError("speed must be greater than 0")
        return spec

    @classmethod
    def coerce(cls, value: PaceSpec | Mapping[str, object] | str | None) -> PaceSpec:
        if value is None:
            return cls()
        if isinstance(value, PaceSpec):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            return cls.from_mapping(value)
        raise PaceSpecError(f"cannot read a pace spec from {type(value).__name__}")

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(name: str, raw: object) -> object:
    text = str(raw).strip().lower()
    try:
        if name == "locks":
            if text in ("1", "true", "on", "yes"):
                return True
            if text in ("0", "false", "off", "no"):
                return False
            raise ValueError
        number: float = float(text) if name in ("rate", "speed") else int(text)
    except (TypeError, ValueError):
        raise PaceSpecError(f"pace setting {name} needs a {'boolean' if name == 'locks' else 'number'}, "
                            f"got {raw!r}") from None
    if number < 0:
        raise PaceSpecError(f"pace setting {name} cannot be negative")
    return number


# A production org, as far as Salesforce documents it (docs/local-org.md gives the source of each
# number): 10,000-record chunks, about 1,000 records/s per job and 5 jobs at once (18M records/hour,
# within the "up to 20 million records per hour" of Salesforce's parallelism guide), a few seconds
# in the queue, and the 10 s lock wait of the platform's row locks.
PRESETS: dict[str, PaceSpec] = {
    "production": PaceSpec(rate=1000.0, chunk=10_000, max_jobs=5, latency_ms=2000, jitter_ms=1000,
                           lock_wait_ms=10_000),
}


def unit_draw(seed: int, *parts: object) -> float:
    """A uniform draw in [0, 1) from a seed and any labels: the same inputs give the same draw."""
    text = "|".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


@dataclass(frozen=True)
class ChunkTimes:
    """When one chunk runs (virtual seconds) and which of its rows fail to lock (positions in the chunk)."""

    requested: float
    start: float
    end: float
    locked_rows: np.ndarray

    @property
    def waited(self) -> float:
        return self.start - self.requested


@dataclass
class _Holder:
    job_id: str
    keys: np.ndarray  # sorted unique lock keys
    end: float


@dataclass
class PaceStats:
    """What the model did, for tests and the admin endpoint."""

    jobs_started: int = 0
    chunks: int = 0
    lock_failures: int = 0
    lock_waits: int = 0
    most_running: int = 0
    refused: int = 0
    running: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, object]:
        return {"jobs_started": self.jobs_started, "chunks": self.chunks, "lock_failures": self.lock_failures,
                "lock_waits": self.lock_waits, "most_running": self.most_running, "refused": self.refused,
                "running": len(self.running)}


class PaceModel:
    """Slots, latency and lock contention in virtual time. Not thread-safe: its driver serialises calls."""

    def __init__(self, spec: PaceSpec):
        self.spec = spec
        self.waiting: deque[str] = deque()
        self.stats = PaceStats()
        self._holders: list[_Holder] = []

    # --- slots -------------------------------------------------------------------------------------
    def arrive(self, job_id: str) -> None:
        """A job reached UploadComplete: it waits for a slot."""
        self.waiting.append(job_id)

    def admit(self, now: float) -> list[tuple[str, float]]:
        """Jobs given a slot now, each with the virtual time it starts (after its latency)."""
        admitted = []
        while self.waiting and (not self.spec.max_jobs or len(self.stats.running) < self.spec.max_jobs):
            job_id = self.waiting.popleft()
            self.stats.running.add(job_id)
            self.stats.jobs_started += 1
            self.stats.most_running = max(self.stats.most_running, len(self.stats.running))
            admitted.append((job_id, now + self.latency(job_id)))
        return admitted

    def latency(self, job_id: str) -> float:
        return (self.spec.latency_ms + self.spec.jitter_ms * unit_draw(self.spec.seed, "latency", job_id)) / 1000

    def finish(self, job_id: str) -> None:
        """The job is over (complete, failed or aborted): its slot is free."""
        self.stats.running.discard(job_id)
        self._holders = [h for h in self._holders if h.job_id != job_id]

    def over_queue_limit(self) -> bool:
        """True when a new job should be refused (REQUEST_LIMIT_EXCEEDED); counts the refusal."""
        if self.spec.queue_limit and len(self.waiting) >= self.spec.queue_limit:
            self.stats.refused += 1
            return True
        return False

    # --- chunks ------------------------------------------------------------------------------------
    def duration(self, rows: int) -> float:
        return rows / self.spec.rate if self.spec.rate else 0.0

    def begin_chunk(self, job_id: str, now: float, row_keys: Sequence[np.ndarray], rows: int | None = None
                    ) -> ChunkTimes:
        """Schedule a chunk of `rows` rows asked for at `now`: `row_keys[k][i]` is row i's key in lock
        column k (0: none); `rows` defaults to the keys' length.

        Rows wait for locks held by chunks of other jobs that are still running; a row whose wait would
        pass `lock_wait_ms` fails after that wait. The chunk starts when its surviving rows have their
        locks and holds them (queued behind the current holders) until it ends.
        """
        if rows is None:
            rows = row_keys[0].size if row_keys else 0
        self._holders = [h for h in self._holders if h.end > now]
        wait = np.zeros(rows)
        if self.spec.locks and rows:
            for holder in self._holders:
                if holder.job_id == job_id:
                    continue
                for keys in row_keys:
                    held = _member(keys, holder.keys)
                    wait[held] = np.maximum(wait[held], holder.end - now)
        limit = self.spec.lock_wait_ms / 1000
        locked = wait > limit
        waited = limit if locked.any() else float(wait.max(initial=0.0))
        start = now + waited
        end = start + self.duration(rows)
        mine = [keys[~locked] for keys in row_keys]
        held_keys = np.unique(np.concatenate(mine)) if mine else np.zeros(0, np.uint64)
        held_keys = held_keys[held_keys != 0]
        if held_keys.size and self.spec.locks:
            self._holders.append(_Holder(job_id, held_keys, end))
        self.stats.chunks += 1
        self.stats.lock_failures += int(locked.sum())
        self.stats.lock_waits += int(waited > 0)
        return ChunkTimes(requested=now, start=start, end=end, locked_rows=np.flatnonzero(locked))


def _member(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """values[i] is a (non-zero) key in `sorted_keys`."""
    if sorted_keys.size == 0 or values.size == 0:
        return np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, values), sorted_keys.size - 1)
    return (sorted_keys[at] == values) & (values != 0)
