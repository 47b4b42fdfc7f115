"""RunProgress driven by a synthetic executor event stream, on a CI log and on a terminal."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from typing import Any

from rich.console import Console

from migrator.run.progress import RunProgress

STEPS = [
    {"id": "Account:L0", "object": "Account", "operation": "upsert", "rows": 10},
    {"id": "Contact:L0", "object": "Contact", "operation": "upsert", "rows": 6},
    {"id": "Account:P2", "object": "Account", "operation": "update", "rows": 4},
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def events() -> Iterator[tuple[str, dict[str, Any]]]:
    """A run as the executor reports it: two jobs and a retry for Account, a skipped contact, one pass-2 job."""
    yield "run_started", {"run_id": "20261129-093012-4f1a", "steps": STEPS}
    yield "step_started", {"step": "Account"}  # a planner event on the same callback: ignored
    yield "step_started", {"id": "Account:L0", "rows": 10}
    yield "job_submitted", {"step": "Account:L0", "job_id": "750A1", "rows": 6, "attempt": 1}
    yield "job_submitted", {"step": "Account:L0", "job_id": "750A2", "rows": 4, "attempt": 1}
    yield "job_progress", {"step": "Account:L0", "job_id": "750A1", "processed": 3, "failed": 0, "state": "InProgress"}
    yield "job_progress", {"step": "Account:L0", "job_id": "750A1", "processed": 6, "failed": 2,
                           "state": "JobComplete"}
    yield "job_done", {"step": "Account:L0", "job_id": "750A1", "succeeded": 4, "failed": 0, "retry": 2}
    yield "job_progress", {"step": "Account:L0", "job_id": "750A2", "processed": 4, "failed": 1,
                           "state": "JobComplete"}
    yield "job_done", {"step": "Account:L0", "job_id": "750A2", "succeeded": 3, "failed": 1, "retry": 0}
    yield "retry_scheduled", {"step": "Account:L0", "rows": 2, "attempt": 2, "delay": 1.5}
    yield "job_submitted", {"step": "Account:L0", "job_id": "750A3", "rows": 2, "attempt": 2}
    yield "job_progress", {"step": "Account:L0", "job_id": "750A3", "processed": 2, "failed": 0,
                           "state": "JobComplete"}
    yield "job_done", {"step": "Account:L0", "job_id": "750A3", "succeeded": 2, "failed": 0, "retry": 0}
    yield "step_done", {"id": "Account:L0", "succeeded": 9, "failed": 1, "skipped": 0}
    yield "step_started", {"id": "Contact:L0", "rows": 6}
    yield "job_submitted", {"step": "Contact:L0", "job_id": "750C1", "rows": 5, "attempt": 1}
    yield "job_done", {"step": "Contact:L0", "job_id": "750C1", "succeeded": 5, "failed": 0, "retry": 0}
    yield "step_done", {"id": "Contact:L0", "succeeded": 5, "failed": 0, "skipped": 1}
    yield "some_future_event", {"whatever": 1}
    yield "step_started", {"id": "Account:P2", "rows": 4}
    yield "job_submitted", {"step": "Account:P2", "job_id": "750P1", "rows": 4, "attempt": 1}
    yield "job_done", {"step": "Account:P2", "job_id": "750P1", "succeeded": 4, "failed": 0, "retry": 0}
    yield "step_done", {"id": "Account:P2", "succeeded": 4, "failed": 0, "skipped": 0}
    yield "run_done", {"status": "completed_with_failures"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def test_ci_log_gets_one_line_per_step_and_per_retry() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    assert not console.is_terminal
    with RunProgress(console, clock=FakeClock()) as progress:
        for kind, data in events():
            progress(kind, data)
    lines = out.getvalue().splitlines()
    assert lines == [
        "Run 20261129-093012-4f1a: 3 step(s), 20 row(s) to send",
        "  Account:L0: retrying 2 row(s), attempt 2, in 1.5 s",
        "! Account:L0 (Account upsert): 10 rows: 9 succeeded, 1 failed, 0 skipped, 2 retried in 0.2 s",
        "! Contact:L0 (Contact upsert): 6 rows: 5 succeeded, 0 failed, 1 skipped in 0.2 s",
        "✓ Account:P2 (Account update): 4 rows: 4 succeeded, 0 failed, 0 skipped in 0.2 s",
    ]
    assert progress.status == "completed_with_failures"
    assert "\x1b[" not in out.getvalue()  # nothing animated in a log


def test_terminal_shows_a_bar_per_step_with_final_counts() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    with RunProgress(console, refresh_per_second=50) as progress:
        for kind, data in events():
            progress(kind, data)
    raw = out.getvalue()
    final = ANSI.sub("", raw.rsplit("\r\x1b[2K", 1)[-1]).strip().splitlines()
    assert len(final) == 3
    account, contact, pass2 = final
    assert account.startswith("✓ Account:L0 Account") and "10/10" in account
    assert "done with failures" in account and "1 failed · 2 retried" in account
    assert contact.startswith("✓ Contact:L0 Contact") and "6/6" in contact and "1 skipped" in contact
    assert pass2.startswith("✓ Account:P2 Account") and "4/4" in pass2 and "failed" not in pass2
    assert "done" in pass2


def test_rows_are_counted_once_across_jobs_and_retries() -> None:
    progress = RunProgress(Console(file=io.StringIO(), force_terminal=True), live=True)
    seen: list[int] = []
    for kind, data in events():
        progress(kind, data)
        account = progress.steps["Account:L0"]
        seen.append(account.processed)
        if kind == "retry_scheduled":
            # 8 rows settled (4 + 3 succeeded, 1 failed for good); the 2 to retry are pending again
            assert (account.processed, account.failed, account.retried) == (8, 1, 2)
    assert max(seen) == 10 and seen[-1] == 10  # never beyond the step's rows, although retries re-send 2
    task = progress._progress.tasks[0]
    assert (task.completed, task.total) == (10, 10)
    assert progress.steps["Contact:L0"].skipped == 1


def test_waiting_steps_spin_until_started_and_an_interrupted_run_says_so() -> None:
    progress = RunProgress(Console(file=io.StringIO(), force_terminal=True), refresh_per_second=50)
    try:
        with progress:
            progress("run_started", {"run_id": "r", "steps": STEPS})
            progress("step_started", {"id": "Account:L0", "rows": 10})
            tasks = progress._progress.tasks
            assert [t.started for t in tasks] == [True, False, False]
            assert [t.fields["status"] for t in tasks] == ["starting", "waiting", "waiting"]
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert {t.fields["status"] for t in progress._progress.tasks} == {"interrupted"}


def test_markup_in_names_and_states_is_shown_literally() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system=None)
    with RunProgress(console) as progress:
        progress("run_started", {"run_id": "r", "steps": [{"id": "Weird[bold]:L0", "object": "X[/]", "rows": 2}]})
        progress("step_started", {"id": "Weird[bold]:L0", "rows": 2})
        progress("job_submitted", {"step": "Weird[bold]:L0", "job_id": "j", "rows": 2, "attempt": 1})
        progress("job_progress", {"step": "Weird[bold]:L0", "job_id": "j", "processed": 1, "failed": 0,
                                  "state": "[red]odd"})
    text = ANSI.sub("", out.getvalue())
    assert "Weird[bold]:L0 X[/]" in text and "[red]odd" in text


def test_events_from_many_threads_add_up() -> None:
    steps = [{"id": f"S{i}:L0", "object": f"Obj{i}", "operation": "insert", "rows": 200} for i in range(4)]
    progress = RunProgress(Console(file=io.StringIO(), force_terminal=True), refresh_per_second=50)

    def worker(step_id: str, first_job: int) -> None:
        for job in range(first_job, first_job + 20):
            job_id = f"{step_id}-{job}"
            progress("job_submitted", {"step": step_id, "job_id": job_id, "rows": 5, "attempt": 1})
            for done in range(1, 6):
                progress("job_progress", {"step": step_id, "job_id": job_id, "processed": done, "failed": 0,
                                          "state": "InProgress"})
            progress("job_done", {"step": step_id, "job_id": job_id, "succeeded": 4, "failed": 1, "retry": 0})

    with progress:
        progress("run_started", {"run_id": "r", "steps": steps})
        threads = [threading.Thread(target=worker, args=(s["id"], half * 20)) for s in steps for half in (0, 1)]
        for s in steps:
            progress("step_started", {"id": s["id"], "rows": 200})
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for s in steps:
        counts = progress.steps[s["id"]]
        assert (counts.processed, counts.failed, counts.in_flight) == (200, 40, {})
    assert [(t.completed, t.total) for t in progress._progress.tasks] == [(200, 200)] * 4


def test_a_lost_connection_is_reported_while_the_run_waits_it_out() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with RunProgress(console, clock=FakeClock()) as progress:
        progress("run_started", {"run_id": "r1", "steps": STEPS[:1]})
        progress("step_started", {"id": "Account:L0", "rows": 10})
        progress("reconnecting", {"step": "Account:L0", "job_id": "750A1", "what": "status", "attempt": 2,
                                  "delay": 2.0, "error": "TransientApiError: ConnectionError talking to [x]"})
    assert out.getvalue().splitlines()[-1] == ("  Account:L0: job 750A1: TransientApiError: ConnectionError talking "
                                               "to [x]; trying again in 2.0 s (attempt 2)")
    assert progress.steps["Account:L0"].status == "connection lost, again in 2s"


def test_emoji_codes_in_names_and_states_are_not_replaced() -> None:
    for live in (True, False):
        out = io.StringIO()
        console = Console(file=out, width=200, force_terminal=live, color_system=None)
        with RunProgress(console, live=live) as progress:
            progress("run_started", {"run_id": "r", "steps": [{"id": "root:x:0:0", "object": ":x:", "rows": 2}]})
            progress("step_started", {"id": "root:x:0:0", "rows": 2})
            progress("job_submitted", {"step": "root:x:0:0", "job_id": "j", "rows": 2, "attempt": 1})
            progress("job_progress", {"step": "root:x:0:0", "job_id": "j", "processed": 1, "failed": 0,
                                      "state": ":warning: odd"})
            if not live:  # a CI log prints a line per finished step
                progress("step_done", {"id": "root:x:0:0", "succeeded": 2, "failed": 0, "skipped": 0})
        text = ANSI.sub("", out.getvalue())
        assert "root:x:0:0" in text and "❌" not in text and "⚠" not in text, text
        if live:
            assert ":warning: odd" in text and "root:x:0:0 :x:" in text
