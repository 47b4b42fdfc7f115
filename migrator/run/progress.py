"""Live progress of a run, drawn from the executor's events.

The CLI passes a `RunProgress` as the executor's `on_event(kind, data)` callback. On a terminal it
shows one bar per step (rows processed out of the step's rows, failed and retried counts, a spinner
while the step waits or polls); in a CI log, where redrawn bars turn into noise, it prints one line
per finished step and per scheduled retry instead.

Events arrive from the executor's worker threads, so every handler runs under one lock. The display
never decides anything: it only counts what the events say, and ignores kinds it does not know (the
planner's own events may reach the same callback). Names and states are shown as plain text (never
read as markup or emoji codes): every column renders a `Text` built from the task's fields.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TimeElapsedColumn,
)
from rich.text import Text


@dataclass
class StepCounts:
    """What the display knows of one step; rows are counted once, whichever job or attempt carried them."""

    id: str
    object: str = ""
    operation: str = ""
    rows: int = 0
    settled: int = 0  # rows whose job finished: succeeded or failed for good
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    in_flight: dict[str, tuple[int, int]] = field(default_factory=dict)  # job id -> (processed, failed)
    status: str = "waiting"
    status_style: str = "dim"
    started_at: float | None = None
    seconds: float = 0.0
    done: bool = False

    @property
    def processed(self) -> int:
        return self.settled + sum(processed for processed, _ in self.in_flight.values())

    @property
    def failed_so_far(self) -> int:
        return self.failed + sum(failed for _, failed in self.in_flight.values())

    @property
    def detail(self) -> Text:
        parts = []
        if self.failed_so_far:
            parts.append(Text(f"{self.failed_so_far:,} failed", style="red"))
        if self.skipped:
            parts.append(Text(f"{self.skipped:,} skipped", style="yellow"))
        if self.retried:
            parts.append(Text(f"{self.retried:,} retried", style="cyan"))
        return Text(" · ").join(parts)

    def set_status(self, text: str, style: str = "dim") -> None:
        self.status, self.status_style = text, style


class PlainColumn(ProgressColumn):
    """A column drawn from the task's fields as `Text`: what the events carry is never markup."""

    def __init__(self, render: Callable[[Task], Text]) -> None:
        super().__init__()
        self._render = render

    def render(self, task: Task) -> Text:
        return self._render(task)


def event_int(data: Mapping[str, Any], key: str) -> int:
    """A count an event carries, 0 when it is missing or not a number (events are never trusted to be typed)."""
    value = data.get(key)
    return int(value) if isinstance(value, int | float) else 0


class RunProgress:
    """Context manager and `on_event` callback: `with RunProgress(console) as p: run(..., on_event=p)`."""

    def __init__(self, console: Console | None = None, *, clock: Callable[[], float] = time.monotonic,
                 live: bool | None = None, refresh_per_second: float = 8) -> None:
        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self._clock = clock
        self._lock = threading.RLock()
        self.steps: dict[str, StepCounts] = {}
        self.run_id: str | None = None
        self.status: str | None = None
        self._tasks: dict[str, TaskID] = {}
        self._progress = Progress(
            SpinnerColumn(finished_text=Text("✓", style="green")),
            PlainColumn(lambda task: Text.assemble((task.fields["step_id"], "bold"), " ",
                                                    (task.fields["object"], "dim"))),
            BarColumn(bar_width=32),
            MofNCompleteColumn(),
            PlainColumn(lambda task: Text(task.fields["status"], style=task.fields["status_style"])),
            PlainColumn(lambda task: task.fields["detail"]),
            TimeElapsedColumn(),
            console=self.console,
            refresh_per_second=refresh_per_second,
            disable=not self.live,
        )

    # --- context manager --------------------------------------------------------------------

    def __enter__(self) -> RunProgress:
        if self.live:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            if self.live:
                for step in self.steps.values():
                    if not step.done:
                        if exc_type:
                            step.set_status("interrupted")
                        self._refresh(step)
                self._progress.stop()

    # --- events -----------------------------------------------------------------------------

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        handler = self._handlers.get(kind)
        if handler is not None:
            with self._lock:
                handler(self, data)

    def _run_started(self, data: Mapping[str, Any]) -> None:
        self.run_id = str(data.get("run_id") or "")
        target = data.get("target")
        if isinstance(target, Mapping) and target.get("description"):
            config = target.get("config_file") or "none found (defaults)"
            self._print(f"Target {target['description']}; configuration: {config}")
        steps = [s for s in data.get("steps") or [] if isinstance(s, Mapping) and s.get("id")]
        for spec in steps:
            step = self._step(str(spec["id"]))
            step.object = str(spec.get("object") or "")
            step.operation = str(spec.get("operation") or "")
            step.rows = event_int(spec, "rows")
            self._refresh(step)
        if not self.live:
            rows = sum(event_int(s, "rows") for s in steps)
            self._print(f"Run {self.run_id}: {len(steps)} step(s), {rows:,} row(s) to send")
        for line in data.get("files") or ():
            self._print(str(line))

    def _step_started(self, data: Mapping[str, Any]) -> None:
        if not data.get("id"):
            return  # the planner's step events carry "step", not "id": not ours to draw
        step = self._step(str(data["id"]))
        if "rows" in data:
            step.rows = event_int(data, "rows")
        step.started_at = self._clock()
        step.set_status("starting")
        if step.id in self._tasks:
            self._progress.start_task(self._tasks[step.id])
        self._refresh(step)

    def _job_submitted(self, data: Mapping[str, Any]) -> None:
        step = self._job_step(data)
        if step is None:
            return
        step.in_flight[str(data["job_id"])] = (0, 0)
        attempt = event_int(data, "attempt")
        step.set_status(f"attempt {attempt}: queued" if attempt > 1 else "queued")
        self._refresh(step)

    def _job_progress(self, data: Mapping[str, Any]) -> None:
        step = self._job_step(data)
        if step is None:
            return
        step.in_flight[str(data["job_id"])] = (event_int(data, "processed"), event_int(data, "failed"))
        step.set_status(str(data.get("state") or "in progress"))
        self._refresh(step)

    def _job_done(self, data: Mapping[str, Any]) -> None:
        step = self._job_step(data)
        if step is None:
            return
        step.in_flight.pop(str(data["job_id"]), None)
        # `failed` are rows failed for good; rows to retry go back to pending until their next job.
        step.settled += event_int(data, "succeeded") + event_int(data, "failed")
        step.failed += event_int(data, "failed")
        step.set_status("retrying" if event_int(data, "retry") else ("polling" if step.in_flight else "finishing"))
        self._refresh(step)

    def _retry_scheduled(self, data: Mapping[str, Any]) -> None:
        step = self.steps.get(str(data.get("step")))
        if step is None:
            return
        rows, attempt, delay = event_int(data, "rows"), event_int(data, "attempt"), data.get("delay") or 0
        step.retried += rows
        step.set_status(f"retry {attempt} in {float(delay):.0f}s")
        self._refresh(step)
        if not self.live:
            self._print(f"  {step.id}: retrying {rows:,} row(s), attempt {attempt}, in {float(delay):.1f} s")

    def _reconnecting(self, data: Mapping[str, Any]) -> None:
        step = self._job_step(data)
        if step is None:
            return
        delay = float(data.get("delay") or 0)
        step.set_status(f"connection lost, again in {delay:.0f}s", "yellow")
        self._refresh(step)
        if not self.live:
            self._print(f"  {step.id}: job {data['job_id']}: {data.get('error') or 'connection lost'}; "
                        f"trying again in {delay:.1f} s (attempt {event_int(data, 'attempt')})")

    def _step_done(self, data: Mapping[str, Any]) -> None:
        if not data.get("id"):
            return
        step = self._step(str(data["id"]))
        succeeded, failed, skipped = event_int(data, "succeeded"), event_int(data, "failed"), event_int(data, "skipped")
        step.in_flight.clear()
        step.settled = succeeded + failed + skipped
        step.failed, step.skipped = failed, skipped
        step.rows = max(step.rows, step.settled)
        step.done = True
        step.seconds = self._clock() - step.started_at if step.started_at is not None else 0.0
        step.set_status(*(("done with failures", "red") if failed or skipped else ("done", "green")))
        self._refresh(step)
        if not self.live:
            mark = "!" if failed or skipped else "✓"
            what = " ".join(filter(None, (step.object, step.operation)))
            retried = f", {step.retried:,} retried" if step.retried else ""
            self._print(f"{mark} {step.id}{f' ({what})' if what else ''}: {step.rows:,} rows: {succeeded:,} "
                        f"succeeded, {failed:,} failed, {skipped:,} skipped{retried} in {step.seconds:.1f} s")

    def _run_done(self, data: Mapping[str, Any]) -> None:
        self.status = str(data.get("status") or "")

    _handlers: dict[str, Callable[[RunProgress, Mapping[str, Any]], None]] = {
        "run_started": _run_started,
        "step_started": _step_started,
        "job_submitted": _job_submitted,
        "job_progress": _job_progress,
        "job_done": _job_done,
        "retry_scheduled": _retry_scheduled,
        "reconnecting": _reconnecting,
        "step_done": _step_done,
        "run_done": _run_done,
    }

    # --- drawing ----------------------------------------------------------------------------

    def _step(self, step_id: str) -> StepCounts:
        step = self.steps.get(step_id)
        if step is None:
            step = self.steps[step_id] = StepCounts(id=step_id)
        return step

    def _job_step(self, data: Mapping[str, Any]) -> StepCounts | None:
        if not data.get("step") or not data.get("job_id"):
            return None
        return self._step(str(data["step"]))

    def _refresh(self, step: StepCounts) -> None:
        if not self.live:
            return
        description = f"{step.id} {step.object}"  # for rich's own uses; the columns draw the fields
        fields = {"step_id": step.id, "object": step.object, "status": step.status, "status_style": step.status_style,
                  "detail": step.detail}
        completed = min(step.processed, step.rows) if step.rows else step.processed
        task = self._tasks.get(step.id)
        if task is None:
            self._tasks[step.id] = self._progress.add_task(
                description, total=step.rows, completed=completed, start=step.started_at is not None, **fields)
        else:
            self._progress.update(task, description=description, total=step.rows, completed=completed, **fields)

    def _print(self, line: str) -> None:
        self.console.print(Text(line), highlight=False, soft_wrap=True)
