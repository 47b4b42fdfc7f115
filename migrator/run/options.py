"""How a run sends its jobs: the options a user (or a test) sets, and the clock it runs on.

Shared by the executor and the job runner; `time` and `sleep` are parameters so that tests can pass a
fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Event = Callable[[str, Mapping[str, object]], None]


@dataclass(frozen=True)
class RunOptions:
    max_retries: int = 3
    send_orphans: bool = False
    concurrency: int = 4  # the most jobs in flight; fewer when the org asks (adaptive)
    poll_initial: float = 0.25
    poll_max: float = 5.0
    poll_min: float = 0.05
    job_timeout: float = 3600.0
    retry_delay: float = 1.0
    # A connection error while watching a job or fetching its results (a dropped socket, a server
    # restarting) is waited out: this many new attempts, the delay doubling up to reconnect_max_delay.
    reconnect_attempts: int = 8
    reconnect_max_delay: float = 30.0
    lock_aware: bool = True  # parts naming the same parents never run at once (and the plan orders rows)
    adaptive: bool = True  # jobs in flight follow the org (throttling, locks, queue), up to `concurrency`
    # A retried job with more of its rows failing to lock than this makes its step serial.
    serial_lock_rate: float = 0.1
    throttle_waits: int = 10  # refusals to create a job waited out before its rows count as failed once


@dataclass(frozen=True)
class Clock:
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
