"""Adaptive concurrency: backs off on REQUEST_LIMIT_EXCEEDED and 503, on locks, and to the org's queue."""

from migrator.errors import AuthError, LimitExceededError, TransientApiError
from migrator.run.concurrency import AdaptiveLimit, is_throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_request_limit_exceeded_halves_the_limit_and_the_wait_doubles():
    clock = FakeClock()
    limit = AdaptiveLimit(8, clock, cooldown=30, base_delay=1)
    assert limit.limit == 8
    assert [limit.throttled(), limit.throttled(), limit.throttled()] == [1, 2, 4]
    assert limit.limit == 1 and [e.reason for e in limit.history] == ["throttled by the org"] * 3
    limit.job_done(rows=100, locked=0)  # still cooling down: no increase
    assert limit.limit == 1
    clock.now = 31
    limit.job_done(rows=100, locked=0)
    limit.job_done(rows=100, locked=0)
    assert limit.limit == 3
    assert limit.throttled() == 1  # a clean job in between: the wait starts over


def test_lock_failures_take_one_job_away_and_clean_jobs_give_it_back_up_to_the_maximum():
    clock = FakeClock()
    limit = AdaptiveLimit(4, clock, cooldown=10)
    limit.job_done(rows=1000, locked=50)
    assert limit.limit == 3
    clock.now = 11
    for _ in range(5):
        limit.job_done(rows=1000, locked=0)
    assert limit.limit == 4


def test_jobs_queued_in_the_org_cap_the_limit_at_what_it_runs_plus_one():
    limit = AdaptiveLimit(10, FakeClock())
    limit.observe(running=3, queued=0)
    assert limit.limit == 10
    limit.observe(running=3, queued=4)
    assert limit.limit == 4
    limit.job_done(rows=10, locked=0)
    assert limit.limit == 4  # not above what the org takes, plus one
    limit.observe(running=5, queued=0)  # it takes more now
    limit.job_done(rows=10, locked=0)
    assert limit.limit == 5


def test_a_fixed_limit_never_moves():
    limit = AdaptiveLimit(4, FakeClock(), adaptive=False)
    assert limit.throttled() == 1.0
    limit.job_done(rows=10, locked=10)
    limit.observe(running=1, queued=5)
    assert limit.limit == 4 and limit.history == []


def test_which_errors_are_throttling():
    assert is_throttle(LimitExceededError("ConcurrentPerOrgLongTxn Limit exceeded", status=403,
                                          error_code="REQUEST_LIMIT_EXCEEDED"))
    assert is_throttle(TransientApiError("busy", status=503, error_code="SERVER_UNAVAILABLE"))
    assert is_throttle(TransientApiError("slow down", status=429))
    assert not is_throttle(LimitExceededError("TotalRequests Limit exceeded.", status=403,
                                              error_code="REQUEST_LIMIT_EXCEEDED"))
    assert not is_throttle(TransientApiError("connection reset"))
    assert not is_throttle(AuthError("no", status=401))
