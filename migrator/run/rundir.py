"""The run directory: where a run keeps everything needed to report on it, resume it or retry it.

    .migrator/runs/<run_id>/
        run.json            what was run: plan, target (no secrets), options, when
        plan/               the compiled plan: manifest.json, parts, rejects.csv, missing_parents.csv
        checkpoint.json     every job of every part and attempt, written atomically after each change
        jobs/<step>/        the rows of each job and the result files the server returned
        steps/<step>/       success.csv, failed.csv, skipped.csv: every row's final outcome
        run_results.json    counts, outcomes and top errors (versioned; read by status and report)
        report.html         the self-contained report

Writes go through `atomic_write_*` (temp file, fsync, rename), so a run killed at any moment leaves
either the old or the new version of each file, never half of one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.compile.files import atomic_write_bytes
from migrator.errors import RunStateError

RUN_RESULTS_VERSION = 2  # 2: `sent` counts rows that reached the server; `to_send`, `not_sent`, `in_flight`
READABLE_RESULTS_VERSIONS = frozenset({1, RUN_RESULTS_VERSION})
RUNS_DIR = "runs"
DEFAULT_HOME = Path(".migrator")


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8"))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunStateError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise RunStateError(f"{path} is not valid JSON ({exc})") from exc


def new_run_id(now: datetime) -> str:
    """Sortable by time to the millisecond (so "the newest run" is right for runs a second apart or less),
    with a random tail for runs in the same millisecond: 20261129-093012-481-4f1a."""
    moment = now.astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{moment.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def utc_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def plan_dir(self) -> Path:
        return self.root / "plan"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.json"

    @property
    def run_info(self) -> Path:
        return self.root / "run.json"

    @property
    def results(self) -> Path:
        return self.root / "run_results.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def jobs_dir(self, step_id: str) -> Path:
        return self.root / "jobs" / _folder(step_id)

    def step_dir(self, step_id: str) -> Path:
        return self.root / "steps" / _folder(step_id)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _folder(step_id: str) -> str:
    return step_id.replace(":", ".")


def runs_root(home: Path) -> Path:
    return home / RUNS_DIR


def run_paths(home: Path, run_id: str | None) -> RunPaths:
    """The run `run_id`, or the most recent run when None."""
    root = runs_root(home)
    if run_id is None:
        runs = sorted(p.name for p in root.glob("*") if (p / "run.json").exists()) if root.exists() else []
        if not runs:
            raise RunStateError(f"no runs in {root}: run `migrator run PLAN` first")
        run_id = runs[-1]
    paths = RunPaths(root / run_id)
    if not paths.run_info.exists():
        known = sorted(p.name for p in root.glob("*")) if root.exists() else []
        hint = f" (known runs: {', '.join(known[-5:])})" if known else ""
        raise RunStateError(f"no run {run_id!r} in {root}{hint}")
    return paths


def resume_command(run_id: str, home: Path = DEFAULT_HOME) -> str:
    """The exact command that finishes run `run_id` (with `--home` when runs live elsewhere)."""
    where = "" if Path(home) == DEFAULT_HOME else f" --home {home}"
    return f"migrator run --resume {run_id}{where}"


def list_runs(home: Path) -> Iterator[RunPaths]:
    root = runs_root(home)
    if root.exists():
        for path in sorted(root.iterdir(), reverse=True):
            if (path / "run.json").exists():
                yield RunPaths(path)


def load_results(paths: RunPaths) -> dict[str, Any]:
    data = read_json(paths.results)
    if data.get("run_results_version") not in READABLE_RESULTS_VERSIONS:
        raise RunStateError(f"{paths.results}: version {data.get('run_results_version')} is not supported")
    return data
