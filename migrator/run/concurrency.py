"""Adaptive concurrency: how many jobs to keep in flight, within the user's `--concurrency` maximum.

More jobs in flight than the org processes at once buy nothing: the extra ones wait in its queue,
cost status calls, and keep parts that could run from being scheduled (their parents count as
locked). Too many at once also make an org refuse work. So the limit follows what the org does,
additive increase and multiplicative decrease, as TCP does:

- throttled (HTTP 503 ``SERVER_UNAVAILABLE``, 429, ``REQUEST_LIMIT_EXCEEDED`` for concurrent
  requests): halve the limit, hold it there for a cool-down, and wait before sending again, the
  wait doubling while throttling goes on;
- rows failing to lock: one job fewer at a time (locks mean parallel jobs collide);
- queue depth: jobs of ours waiting in ``UploadComplete`` while others run show how many the org
  takes at once; keep at most one more than that in flight, so a freed slot is filled at once;
- a job finishing cleanly, with nothing queued: one more (up to the maximum).

Pure state: the clock is passed in, nothing sleeps here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from migrator.errors import BulkApiError, LimitExceededError, TransientApiError

THROTTLE_STATUSES = frozenset({429, 503})
THROTTLE_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "TooManyRequests"})
DAILY_LIMIT_TEXT = ("TotalRequests", "per 24", "daily")


def is_throttle(exc: BulkApiError) -> bool:
    """The org asks to slow down (try again later), as opposed to a daily allocation used up."""
    if not isinstance(exc, LimitExceededError | TransientApiError):
        return False
    text = f"{exc.error_code or ''} {exc.api_message or ''}"
    if any(word in text for word in DAILY_LIMIT_TEXT):
        return False
    return exc.status in THROTTLE_STATUSES or (exc.error_code or "") in THROTTLE_CODES


@dataclass
class LimitEvent:
    """A change of the limit, for the progress display and the run's results."""

    limit: int
    reason: str


@dataclass
class AdaptiveLimit:
    maximum: int
    clock: Callable[[], float]
    minimum: int = 1
    adaptive: bool = True
    cooldown: float = 30.0
    base_delay: float = 1.0
    max_delay: float = 60.0
    lock_rate: float = 0.01  # a job with more of its rows failing to lock counts as contention
    limit: int = 0
    history: list[LimitEvent] = field(default_factory=list)
    _hold_until: float = 0.0
    _throttles: int = 0
    _capacity: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.maximum = max(self.minimum, self.maximum)
        self.limit = self.limit or self.maximum

    def _set(self, limit: int, reason: str) -> None:
        limit = max(self.minimum, min(self.maximum, limit))
        if limit != self.limit:
            self.limit = limit
            self.history.append(LimitEvent(limit, reason))

    def throttled(self) -> float:
        """The org refused work for now: halve the limit; returns how long to wait before sending again."""
        with self._lock:
            self._throttles += 1
            now = self.clock()
            if self.adaptive:
                self._set(self.limit // 2, "throttled by the org")
                self._hold_until = now + self.cooldown
            return min(self.max_delay, self.base_delay * 2 ** (self._throttles - 1))

    def job_done(self, rows: int, locked: int) -> None:
        """A job finished: `locked` of its `rows` failed to lock."""
        with self._lock:
            self._throttles = 0
            if not self.adaptive:
                return
            if rows and locked / rows > self.lock_rate:
                self._set(self.limit - 1, "rows failing to lock")
                self._hold_until = self.clock() + self.cooldown
            elif self.clock() >= self._hold_until:
                ceiling = self._capacity + 1 if self._capacity else self.maximum
                if self.limit < ceiling:
                    self._set(self.limit + 1, "jobs finishing cleanly")

    def observe(self, running: int, queued: int) -> None:
        """Jobs of ours in flight: `running` InProgress, `queued` waiting in UploadComplete for longer than
        a job normally takes to start (the org's own latency is not a queue)."""
        with self._lock:
            if not self.adaptive or not running:
                return
            if queued:
                self._capacity = max(self._capacity, running)
                if self.limit > self._capacity + 1:
                    self._set(self._capacity + 1, f"the org runs {self._capacity} job(s) at once")
            elif running > self._capacity > 0:
                self._capacity = running  # it takes more now
