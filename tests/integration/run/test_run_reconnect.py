"""The local org goes away while a job runs (a restart, dropped sockets): the run waits, re-attaches
to its job and finishes, instead of stopping with exit 2."""

from __future__ import annotations

import threading

import pytest

from migrator.run.executor import Clock
from tests.integration.run.test_run_failures import write_plan


class Restart:
    """On the first progress event in `state` (a job being polled, or finished with its results still
    to fetch), stop the org; once the executor has noticed (its first `reconnecting` event), start the
    org again on the same port and database, from another thread."""

    def __init__(self, org, state: str):
        self.org, self.state = org, state
        self.stopped, self.restarted = threading.Event(), threading.Event()
        self.lock = threading.Lock()  # events come from several worker threads
        self.reconnects: list[dict] = []
        self.submitted = 0

    def __call__(self, kind: str, data) -> None:
        if kind == "reconnecting":
            with self.lock:
                self.reconnects.append(dict(data))
                if len(self.reconnects) == 1:
                    threading.Thread(target=self._start, daemon=True).start()
            return
        if kind == "job_submitted":
            with self.lock:
                self.submitted += 1
        # once both Account jobs exist: no job is being created while the org is away
        if kind != "job_progress" or self.submitted < 2 or not self._wanted(str(data["state"])):
            return
        with self.lock:
            if self.stopped.is_set():
                return
            self.org.server.stop()  # the socket is gone before the executor asks again
            self.stopped.set()

    def _wanted(self, state: str) -> bool:
        return state == "JobComplete" if self.state == "JobComplete" else state != "JobComplete"

    def _start(self) -> None:
        self.org.server.start()
        self.restarted.set()

    def sleep(self, seconds: float) -> None:
        """Waits after a reconnect last until the org is back (never by the wall clock); others are skipped."""
        if self.reconnects:
            assert self.restarted.wait(60), "the org did not come back"


@pytest.mark.parametrize("state", ["InProgress", "JobComplete"], ids=["while-polling", "before-results"])
def test_a_server_restart_mid_run_is_waited_out(org, state):
    plan = write_plan(org.project, accounts=40, part_rows=20)
    org.faults({"slow_ms": 300 if state == "InProgress" else 20})  # slow enough to be caught running
    restart = Restart(org, state)
    result = org.run(plan, on_event=restart, clock=Clock(sleep=restart.sleep))
    assert restart.stopped.is_set() and restart.reconnects, "the org never went away"
    # the job that saw the state fails on this call (other jobs running at the time may fail on the other)
    assert ("status" if state == "InProgress" else "results") in {r["what"] for r in restart.reconnects}
    assert result.exit_code == 0, (result.results["error"], result.results["top_errors"])
    totals = result.results["totals"]
    assert (totals["succeeded"], totals["failed"], totals["skipped"]) == (120, 0, 0)
    assert org.count("Account") == 40 and org.count("Contact") == 80

