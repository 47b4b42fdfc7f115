"""The checkpoint: every job of every part and attempt of a run, so a killed run resumes exactly.

It lives in the run directory as ``checkpoint.json`` and is rewritten atomically after each
change of state, so a run killed at any moment finds either the previous or the next state,
never half of one, and no finished job is sent twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrator.errors import RunStateError
from migrator.run.rundir import RunPaths, atomic_write_json, read_json

CHECKPOINT_VERSION = 1


@dataclass
class JobRecord:
    """One Bulk job: which rows it carried, its id once created, and where its outcome went."""

    number: int
    attempt: int
    rows_file: str
    rows: int
    job_id: str | None = None
    state: str = "prepared"  # prepared -> created -> submitted -> done
    outcome: dict[str, str] = field(default_factory=dict)  # kind -> relative path (success, failed, retry)
    counts: dict[str, int] = field(default_factory=dict)
    job_state: str | None = None
    error: str | None = None
    seconds: float = 0.0
    api_calls: int = 0  # HTTP calls made for this job (create, upload, close, status checks, results)

    @property
    def done(self) -> bool:
        return self.state == "done"


@dataclass
class PartProgress:
    part: str
    skipped_file: str | None = None
    skipped: int = 0
    jobs: list[JobRecord] = field(default_factory=list)
    done: bool = False

    def attempt_jobs(self, attempt: int) -> list[JobRecord]:
        return [j for j in self.jobs if j.attempt == attempt]

    @property
    def last_attempt(self) -> int:
        return max((j.attempt for j in self.jobs), default=0)


@dataclass
class StepProgress:
    id: str
    parts: dict[str, PartProgress] = field(default_factory=dict)
    done: bool = False


@dataclass
class Checkpoint:
    run_id: str
    steps: dict[str, StepProgress] = field(default_factory=dict)
    version: int = CHECKPOINT_VERSION

    def step(self, step_id: str) -> StepProgress:
        return self.steps.setdefault(step_id, StepProgress(id=step_id))

    def part(self, step_id: str, part: str) -> PartProgress:
        step = self.step(step_id)
        return step.parts.setdefault(part, PartProgress(part=part))

    def jobs(self) -> Iterator[tuple[str, JobRecord]]:
        for step in self.steps.values():
            for part in step.parts.values():
                for job in part.jobs:
                    yield step.id, job

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any], path: Path) -> Checkpoint:
        if data.get("version") != CHECKPOINT_VERSION:
            raise RunStateError(
                f"{path}: checkpoint version {data.get('version')} is not supported (expected {CHECKPOINT_VERSION})"
            )
        steps = {}
        for step_id, step in data["steps"].items():
            parts = {
                name: PartProgress(
                    part=p["part"],
                    skipped_file=p.get("skipped_file"),
                    skipped=p.get("skipped", 0),
                    done=p["done"],
                    jobs=[JobRecord(**j) for j in p["jobs"]],
                )
                for name, p in step["parts"].items()
            }
            steps[step_id] = StepProgress(id=step_id, parts=parts, done=step["done"])
        return Checkpoint(run_id=data["run_id"], steps=steps)


def save_checkpoint(paths: RunPaths, checkpoint: Checkpoint) -> None:
    atomic_write_json(paths.checkpoint, checkpoint.to_json())


def load_checkpoint(paths: RunPaths) -> Checkpoint:
    if not paths.checkpoint.exists():
        return Checkpoint(run_id=paths.run_id)
    return Checkpoint.from_json(read_json(paths.checkpoint), paths.checkpoint)
