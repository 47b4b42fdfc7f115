"""Polling at the org's pace: learned rates, the first check about when a job should be done, backoff."""

import pytest

from migrator.client.polling import JobPace, poll_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def test_before_anything_is_learned_checks_back_off():
    pace = JobPace(poll_min=0.05, poll_initial=0.25, poll_max=5.0, backoff=1.5)
    assert pace.first_wait(10_000) == 0.0 and pace.expected(10) is None
    assert pace.next_delay(100, 0, running=True, last=0.25) == 0.375
    assert pace.next_delay(100, 0, running=False, last=4.0) == 5.0  # backoff, up to poll_max


def test_a_learned_rate_puts_checks_about_when_a_job_ends():
    pace = JobPace(poll_min=0.05, poll_max=60.0)
    pace.learn(rows=10_000, processing_seconds=10.0, total_seconds=12.0)  # 1,000 rows/s, 2 s to start
    assert pace.rate == 1000 and pace.start_latency == 2.0
    assert pace.expected(5_000) == 7.0 and pace.first_wait(5_000) == 6.3
    assert pace.next_delay(5_000, 4_000, running=True, last=6.3, elapsed=6.3) == 1.0  # 1,000 rows to go
    # no progress reported yet (chunks report as they end): the time left until it should be done
    assert pace.next_delay(5_000, 0, running=True, last=6.3, elapsed=6.3) == pytest.approx(0.7)
    # late: checked again every tenth of its expected time
    assert pace.next_delay(5_000, 0, running=False, last=0.7, elapsed=7.5) == pytest.approx(0.7)
    pace.learn(rows=1_000, processing_seconds=0.5, total_seconds=1.5)
    assert 1000 < pace.rate < 2000  # a moving average


def test_poll_until_waits_first_and_follows_next_delay():
    clock = FakeClock()
    states = iter(["UploadComplete", "InProgress", "InProgress", "JobComplete"])
    calls = []

    def fetch() -> str:
        calls.append(clock.now)
        return next(states)

    delays = iter([2.0, 1.0, 0.5])
    result = poll_until(fetch, lambda s: s == "JobComplete", clock=clock.monotonic, sleep=clock.sleep,
                        timeout=None, first_wait=3.0, next_delay=lambda value, last: next(delays))
    assert result == "JobComplete" and clock.sleeps == [3.0, 2.0, 1.0, 0.5] and len(calls) == 4
