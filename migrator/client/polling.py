"""Waiting for a server-side job with exponential backoff, on an injected clock.

Shared by the Bulk 2.0 and Bulk 1.0 clients (and usable over any `IngestClient.status`), so both
wait the same way. Time is a parameter: tests pass a fake clock whose ``sleep`` just advances it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from migrator.errors import TransientApiError

T = TypeVar("T")

POLL_TIMEOUT_CODE = "POLL_TIMEOUT"


def poll_until(fetch: Callable[[], T], is_done: Callable[[T], bool], *,
               clock: Callable[[], float], sleep: Callable[[float], None], timeout: float | None,
               poll_initial: float = 0.5, poll_max: float = 10.0, backoff: float = 1.5,
               on_poll: Callable[[T], None] | None = None, job_id: str | None = None) -> T:
    """Call `fetch` until `is_done` says so; sleep `poll_initial`, then longer each time up to `poll_max`.

    Raises TransientApiError with error_code ``POLL_TIMEOUT`` once `timeout` seconds have passed
    (``None`` waits forever). The job itself is left alone: it may still finish later.
    """
    if poll_initial <= 0 or poll_max < poll_initial or backoff < 1:
        raise ValueError("need 0 < poll_initial <= poll_max and backoff >= 1")
    deadline = None if timeout is None else clock() + timeout
    delay = poll_initial
    while True:
        value = fetch()
        if on_poll is not None:
            on_poll(value)
        if is_done(value):
            return value
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TransientApiError(f"job did not finish within {timeout:g} s",
                                        error_code=POLL_TIMEOUT_CODE, job_id=job_id)
            sleep(min(delay, remaining))
        else:
            sleep(delay)
        delay = min(delay * backoff, poll_max)
