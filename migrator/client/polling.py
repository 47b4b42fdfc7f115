"""Waiting for a server-side job with exponential backoff, on an injected clock.

Shared by the Bulk 2.0 and Bulk 1.0 clients (and usable over any `IngestClient.status`), so both
wait the same way. Time is a parameter: tests pass a fake clock whose ``sleep`` just advances it.

Every status check is an API call that counts against the org's daily allocation, and Salesforce's
advice is to check "at a reasonable interval" and back off. `JobPace` makes the interval follow what
the org does: it learns how fast this org processes records (from the processing time finished
jobs report) and how long a job waits before it starts, then checks a job about when it should be
done, and backs off geometrically when it is not. A job expected to take a minute is looked at once
or twice, not thirty times; a job the org finishes in 50 ms is seen done after about 50 ms.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from migrator.errors import TransientApiError

T = TypeVar("T")

POLL_TIMEOUT_CODE = "POLL_TIMEOUT"


def poll_until(fetch: Callable[[], T], is_done: Callable[[T], bool], *,
               clock: Callable[[], float], sleep: Callable[[float], None], timeout: float | None,
               poll_initial: float = 0.5, poll_max: float = 10.0, backoff: float = 1.5,
               on_poll: Callable[[T], None] | None = None, job_id: str | None = None,
               first_wait: float = 0.0, next_delay: Callable[[T, float], float] | None = None) -> T:
    """Call `fetch` until `is_done` says so; sleep `poll_initial`, then longer each time up to `poll_max`.

    `first_wait`: sleep this long before the first call (a job is known not to be done sooner).
    `next_delay(value, last_delay)`: the next sleep, instead of the geometric backoff.
    Raises TransientApiError with error_code ``POLL_TIMEOUT`` once `timeout` seconds have passed
    (``None`` waits forever). The job itself is left alone: it may still finish later.
    """
    if poll_initial <= 0 or poll_max < poll_initial or backoff < 1:
        raise ValueError("need 0 < poll_initial <= poll_max and backoff >= 1")
    deadline = None if timeout is None else clock() + timeout
    delay = poll_initial
    if first_wait > 0:
        sleep(first_wait if deadline is None else min(first_wait, timeout or 0.0))
    while True:
        value = fetch()
        if on_poll is not None:
            on_poll(value)
        if is_done(value):
            return value
        if next_delay is not None:
            delay = max(0.0, next_delay(value, delay))
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TransientApiError(f"job did not finish within {timeout:g} s",
                                        error_code=POLL_TIMEOUT_CODE, job_id=job_id)
            sleep(min(delay, remaining))
        else:
            sleep(delay)
        if next_delay is None:
            delay = min(delay * backoff, poll_max)


class JobPace:
    """What an org's jobs take, learned from finished jobs, and when to check a job next.

    Thread-safe: the executor's workers share one. Until a job has finished, checks start at
    `poll_initial` and back off by `backoff` up to `poll_max`, as before.
    """

    def __init__(self, *, poll_min: float = 0.05, poll_initial: float = 0.25, poll_max: float = 5.0,
                 backoff: float = 1.5, weight: float = 0.3):
        self.poll_min, self.poll_initial, self.poll_max = poll_min, poll_initial, poll_max
        self.backoff, self.weight = backoff, weight
        self.rate: float | None = None  # records per second of processing, per job
        self.start_latency: float | None = None  # seconds from closing a job to its processing starting
        self._lock = threading.Lock()

    def learn(self, rows: int, processing_seconds: float, total_seconds: float) -> None:
        """A job of `rows` rows processed in `processing_seconds`, closed to done in `total_seconds`."""
        if rows <= 0 or total_seconds <= 0:
            return
        processing = min(max(processing_seconds, 0.0), total_seconds)
        with self._lock:
            if processing > 0:
                self.rate = self._mix(self.rate, rows / processing)
            self.start_latency = self._mix(self.start_latency, max(0.0, total_seconds - processing))

    def _mix(self, old: float | None, new: float) -> float:
        return new if old is None else old + self.weight * (new - old)

    def expected(self, rows: int) -> float | None:
        """Seconds from closing a job of `rows` rows to its end, or None before anything was learned."""
        with self._lock:
            if self.rate is None:
                return None
            return (self.start_latency or 0.0) + rows / self.rate

    def first_wait(self, rows: int) -> float:
        """How long to wait before the first check of a job just closed."""
        expected = self.expected(rows)
        return 0.0 if expected is None else min(self.poll_max, max(self.poll_min, 0.9 * expected))

    def next_delay(self, rows: int, processed: int, running: bool, last: float, elapsed: float = 0.0) -> float:
        """The wait before the next check of a job not done yet, `elapsed` seconds after it was closed.

        Once a rate is known: the rows left at that rate when the job reports progress, else the time
        left until it should be done; a job already late is checked again every tenth of its expected
        time (so it is seen done soon after it is, for a few calls). Before anything is learned: the
        last wait times the backoff."""
        with self._lock:
            rate, latency = self.rate, self.start_latency or 0.0
        if rate:
            expected = latency + rows / rate
            remaining = (rows - processed) / rate if running and 0 < processed < rows else expected - elapsed
            if remaining > self.poll_min:
                return min(self.poll_max, remaining)
            return min(self.poll_max, max(self.poll_min, 0.1 * expected))
        return min(self.poll_max, max(self.poll_min, last * self.backoff))
