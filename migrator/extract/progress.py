"""Live progress of an extract (one bar per object: rows downloaded of the rows its queries found),
and of a copy (the extract's bars, then the run's).

Like `run/progress.py`: a context manager that is the `on_event` callback; on a terminal it draws
bars, in a CI log it prints one line per step written. Events come from download threads, so every
handler runs under one lock; names are drawn as plain text, never read as markup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TimeElapsedColumn,
)
from rich.text import Text

from migrator.run.progress import PlainColumn, RunProgress, event_int


@dataclass
class StepRows:
    step: str
    object: str = ""
    total: int = 0
    rows: int = 0
    status: str = "waiting"
    done: bool = False


class ExtractProgress:
    """`with ExtractProgress(console) as p: extract(..., on_event=p)`."""

    def __init__(self, console: Console | None = None, *, live: bool | None = None) -> None:
        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self._lock = threading.RLock()
        self.steps: dict[str, StepRows] = {}
        self._tasks: dict[str, TaskID] = {}
        self._running = False
        self._progress = Progress(
            SpinnerColumn(finished_text=Text("✓", style="green")),
            PlainColumn(lambda task: Text.assemble((task.fields["step"], "bold"), " ", (task.fields["object"], "dim"))),
            BarColumn(bar_width=32), MofNCompleteColumn(),
            PlainColumn(lambda task: Text(task.fields["status"], style="dim")), TimeElapsedColumn(),
            console=self.console, disable=not self.live)

    def __enter__(self) -> ExtractProgress:
        if self.live:
            self._progress.start()
            self._running = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        with self._lock:
            if self._running:
                self._progress.stop()
                self._running = False

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        handler = self._handlers.get(kind)
        if handler is not None:
            with self._lock:
                handler(self, data)

    def _started(self, data: Mapping[str, Any]) -> None:
        for spec in data.get("steps") or []:
            step = self._step(str(spec.get("step")))
            step.object = str(spec.get("object") or "")
            step.status = "querying"
            self._refresh(step)
        if not self.live:
            self._print(f"Extract {data.get('extract_id')} from {data.get('target')}: "
                        f"{len(data.get('steps') or [])} step(s)")

    def _total(self, data: Mapping[str, Any]) -> None:
        step = self._step(str(data.get("step")).split("#")[0])
        if "#" in str(data.get("step")):
            return  # an Id scan: not the step's rows
        step.total += event_int(data, "rows")
        step.status = "downloading"
        self._refresh(step)

    def _rows(self, data: Mapping[str, Any]) -> None:
        if "#" in str(data.get("step")):
            return
        step = self._step(str(data.get("step")))
        step.rows += event_int(data, "rows")
        self._refresh(step)

    def _writing(self, data: Mapping[str, Any]) -> None:
        step = self._step(str(data.get("step")))
        step.status = f"writing {data.get('file')}"
        self._refresh(step)

    def _written(self, data: Mapping[str, Any]) -> None:
        step = self._step(str(data.get("step")))
        step.done, step.status = True, f"{event_int(data, 'rows'):,} rows in {data.get('file')}"
        step.total = step.rows = max(step.rows, event_int(data, "rows"))
        self._refresh(step)
        if not self.live:
            self._print(f"✓ {step.step} ({step.object}): {event_int(data, 'rows'):,} rows -> {data.get('file')}")

    def _done(self, data: Mapping[str, Any]) -> None:
        self.stop()

    _handlers: dict[str, Callable[[ExtractProgress, Mapping[str, Any]], None]] = {
        "extract_started": _started, "extract_total": _total, "extract_rows": _rows,
        "extract_writing": _writing, "extract_written": _written, "extract_done": _done,
    }

    def _step(self, name: str) -> StepRows:
        if name not in self.steps:
            self.steps[name] = StepRows(step=name)
        return self.steps[name]

    def _refresh(self, step: StepRows) -> None:
        if not self.live:
            return
        fields = {"step": step.step, "object": step.object, "status": step.status}
        total = max(step.total, step.rows) or None
        task = self._tasks.get(step.step)
        if task is None:
            self._tasks[step.step] = self._progress.add_task(step.step, total=total, completed=step.rows, **fields)
        else:
            self._progress.update(task, total=total, completed=step.rows, **fields)

    def _print(self, line: str) -> None:
        self.console.print(Text(line), highlight=False, soft_wrap=True)


class CopyProgress:
    """A copy's progress: the extract's bars while it extracts, then the run's."""

    def __init__(self, console: Console | None = None, *, live: bool | None = None) -> None:
        self.console = console or Console()
        self.extract = ExtractProgress(self.console, live=live)
        self.run = RunProgress(self.console, live=live)
        self._run_started = False

    def __enter__(self) -> CopyProgress:
        self.extract.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.extract.stop()
        if self._run_started:
            self.run.__exit__(exc_type, exc, tb)

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind.startswith("extract_"):
            self.extract(kind, data)
            return
        if kind == "run_started" and not self._run_started:
            self.extract.stop()
            self.run.__enter__()
            self._run_started = True
        self.run(kind, data)
