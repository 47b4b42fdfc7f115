"""Deterministic fault injection, so clients can be tested against the failures real orgs produce.

Off by default. A spec is a compact string (``lock_rate=0.1,seed=7,fail_job_after=500,upload_503=2,
expire_token_after=20,slow_ms=50``) or the same keys as a dict / JSON object:

- ``lock_rate``: fraction of rows failing with ``UNABLE_TO_LOCK_ROW``. The draw hashes the seed,
  the job id, the row's position and content, so a run is reproducible while a retried row (sent in
  a new job) gets a fresh draw and can succeed.
- ``fail_job_after``: the job goes Failed after that many records; the rest are unprocessed.
- ``upload_503``: the next N uploads answer 503 ``SERVER_UNAVAILABLE``.
- ``expire_token_after``: each access token stops working after N authenticated calls; clients must
  get a new one from /services/oauth2/token. Clearing the faults revives tokens it expired.
- ``slow_ms``: sleep this long before each internal batch.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class FaultSpec:
    lock_rate: float = 0.0
    seed: int = 0
    fail_job_after: int | None = None
    upload_503: int = 0
    expire_token_after: int | None = None
    slow_ms: int = 0

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        values: dict[str, str] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(f"fault spec item {part!r} is not name=value")
            values[name.strip()] = value.strip()
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> FaultSpec:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise FaultSpecError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(known)}")
        parsed: dict[str, object] = {}
        for name, raw in values.items():
            if raw is None:
                continue
            try:
                number = float(raw) if name == "lock_rate" else int(str(raw))
            except (TypeError, ValueError):
                raise FaultSpecError(f"fault {name} needs a number, got {raw!r}") from None
            if name == "lock_rate" and not 0.0 <= float(number) <= 1.0:
                raise FaultSpecError("lock_rate must be between 0 and 1")
            if number < 0:
                raise FaultSpecError(f"fault {name} cannot be negative")
            parsed[name] = number
        return cls(**parsed)  # type: ignore[arg-type]

    @classmethod
    def coerce(cls, value: FaultSpec | Mapping[str, object] | str | None) -> FaultSpec:
        if value is None:
            return cls()
        if isinstance(value, FaultSpec):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            return cls.from_mapping(value)
        raise FaultSpecError(f"cannot read a fault spec from {type(value).__name__}")

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Faults:
    """The live fault state of one org: the spec plus its counters (uploads refused, token calls)."""

    def __init__(self, spec: FaultSpec | None = None):
        self._lock = threading.Lock()
        self.spec = FaultSpec()
        self._uploads_to_refuse = 0
        self._token_calls: dict[str, int] = {}
        self._expired: set[str] = set()
        self.set(spec)

    def set(self, spec: FaultSpec | Mapping[str, object] | str | None) -> FaultSpec:
        parsed = FaultSpec.coerce(spec)
        with self._lock:
            self.spec = parsed
            self._uploads_to_refuse = parsed.upload_503
            self._token_calls.clear()
            self._expired.clear()
        return parsed

    def refuse_upload(self) -> bool:
        """True for each of the next `upload_503` uploads."""
        with self._lock:
            if self._uploads_to_refuse > 0:
                self._uploads_to_refuse -= 1
                return True
            return False

    def token_expired(self, token_key: str) -> bool:
        """Count one authenticated call made with the token; True once it has been used up."""
        limit = self.spec.expire_token_after
        with self._lock:
            if token_key in self._expired:
                return True
            if limit is None:
                return False
            calls = self._token_calls.get(token_key, 0) + 1
            if calls > limit:
                self._expired.add(token_key)
                self._token_calls.pop(token_key, None)
                return True
            self._token_calls[token_key] = calls
            return False

    def lock_filter_for(self, salt: str, first_row: int, columns: Sequence[pa.Array], size: int):
        """`lock_filter` for a batch of text columns (None when lock_rate is off): each row's key is its
        cells' content, so the same row draws the same way in the same job and afresh in another."""
        if self.spec.lock_rate <= 0:
            return None
        texts = [column.to_pylist() for column in columns]
        keys = ["\x1f".join(values) for values in zip(*texts, strict=True)] if texts else [""] * size
        return self.lock_filter(salt, first_row, keys)

    def lock_filter(self, job_id: str, first_row: int, keys: Sequence[str]):
        """A function: row indices of a batch -> mask of rows that fail to lock (None when off)."""
        spec = self.spec
        if spec.lock_rate <= 0:
            return None
        threshold = int(spec.lock_rate * 2**64)
        salt = f"{spec.seed}|{job_id}|"

        def draw(text: str) -> int:
            return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")

        def locked(rows: np.ndarray) -> np.ndarray:
            return np.array([draw(f"{salt}{first_row + r}|{keys[r]}") < threshold for r in rows.tolist()],
                            dtype=bool)

        return locked
