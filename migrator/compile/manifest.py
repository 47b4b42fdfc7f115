"""The compiled plan on disk: `manifest.json`, written by `migrator plan`, read by `migrator run`.

Versioned so that a run can refuse a manifest it does not understand. Paths inside are relative
to the manifest's directory, so a compiled plan can be moved or archived as a whole. No
timestamps: compiling the same plan and sources twice gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from migrator.compile.csvread import SourceWarning
from migrator.errors import RunStateError

MANIFEST_VERSION = 1
MANIFEST_FILE = "manifest.json"
REJECTS_FILE = "rejects.csv"
MISSING_PARENTS_FILE = "missing_parents.csv"
UNCHANGED_FILE = "unchanged.csv"  # rows a changed-only load did not send: the target already has them
UNCHANGED_COLUMNS = ("step", "step_id", "object", "source_file", "source_row", "key")
UNCHANGED_STEP_COLUMNS = tuple(c for c in UNCHANGED_COLUMNS if c != "step_id")
UNCHANGED_STEP_DIR = "unchanged"


def unchanged_step_file(step_id: str) -> str:
    """A step's unchanged rows, as its results folder shows them (plan-relative; one file per step so
    that collecting a step's results does not read every step's rows)."""
    return f"{UNCHANGED_STEP_DIR}/{step_id}.csv"
REJECT_COLUMNS = ("step", "object", "source_file", "source_row", "key", "field", "value", "reason")
MAX_WARNINGS = 100
MISSING_PARENT_COLUMNS = (
    "step",
    "object",
    "source_file",
    "source_row",
    "key",
    "field",
    "parent_object",
    "parent_key_field",
    "parent_key",
    "why",  # not in the source data | filtered out by where | rejected (file line N, field: reason)
)


def _installed_version() -> str:
    """migrator's version as installed: pyproject.toml is the one place it is written."""
    try:
        return metadata.version("migrator")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


MIGRATOR_VERSION = _installed_version()


@dataclass(frozen=True)
class LockRange:
    """The parents a part's rows name in its lock lookup: the first and last parent key (lower case).

    Two parts whose ranges in the same `space` (parent object and key field) meet may name the same
    parent, so running them at the same time risks UNABLE_TO_LOCK_ROW; parts of one step ordered by
    parent have ranges that do not meet."""

    space: str
    field: str
    lo: str
    hi: str

    def meets(self, other: LockRange) -> bool:
        return self.space == other.space and self.lo <= other.hi and other.lo <= self.hi


@dataclass(frozen=True)
class PartEntry:
    path: str
    rows: int
    bytes: int
    sha256: str
    source_index: str  # the part's companion file: source file and row of each line
    transport: str = "bulk"  # "rest": rows whose files are too big for a ZIP batch, sent one by one over REST
    locks: tuple[LockRange, ...] = ()  # the parents its rows name (lock-aware parts), for the scheduler

    def shares_parents(self, other: PartEntry) -> bool:
        return any(mine.meets(theirs) for mine in self.locks for theirs in other.locks)


@dataclass(frozen=True)
class LookupEntry:
    field: str
    headers: tuple[str, ...]
    targets: tuple[str, ...]
    key: str
    mode: str  # "pass1", "levels" (self-reference loaded by level), "pass2" (deferred), "existing"


@dataclass(frozen=True)
class StepEntry:
    """One runnable step (one Bulk job per part)."""

    id: str
    step: str
    object: str
    operation: str
    external_id: str | None
    key_column: str | None
    api: str
    concurrency: str
    pass_no: int
    level: int | None
    wave: int
    depends_on: tuple[str, ...]
    columns: tuple[str, ...]
    parts: tuple[PartEntry, ...]
    rows: int
    unchanged: int = 0  # rows not sent by a changed-only load (the target already holds these values)
    files_dir: str | None = None  # the folder of binary fields' `#path` references (relative: to the plan's folder)
    binary_fields: tuple[str, ...] = ()  # columns holding `#path` references (sent in ZIP batches)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("pass_no")
        for part in data["parts"]:  # parts of steps without files look as they always did
            if part["transport"] == "bulk":
                part.pop("transport")
        if not self.binary_fields:
            data.pop("files_dir")
            data.pop("binary_fields")
        return data


@dataclass(frozen=True)
class SourceSummary:
    """What happened to the rows of one plan step before anything was sent."""

    step: str
    object: str
    files: tuple[str, ...]
    source_rows: int
    filtered: int
    rejected: int
    rows: int
    missing_parents: dict[str, int]
    deferred_rows: int
    levels: int
    lookups: tuple[LookupEntry, ...] = ()
    unchanged: int = 0  # source rows a changed-only load did not send (their pass-1 rows were unchanged)
    masked: dict[str, str] = field(default_factory=dict)  # field -> its mask, e.g. "email (domain kept)"
    generated: dict[str, Any] | None = None  # a generated source: rows, seed, locale, count or per + children
    binary_files: dict[str, int] | None = None  # files sent: files, bytes, largest, rest (sent over REST)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("masked", "generated", "binary_files"):  # plain sources look as they always did
            if not data[key]:
                data.pop(key)
        return data


@dataclass(frozen=True)
class Manifest:
    """The compiled plan: its steps in load order (waves, levels, passes), their CSV parts, the
    sources read and the rows refused before sending. `migrator run` sends exactly these parts."""

    plan_name: str
    plan_file: str
    plan_checksum: str
    description: str | None
    strict: bool
    steps: tuple[StepEntry, ...]
    sources: tuple[SourceSummary, ...]
    rejects: int
    missing_parents: int
    variables: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0
    fake: dict[str, Any] = field(default_factory=dict)  # Faker version, --scale, mask key id: never the secret
    warnings: tuple[SourceWarning, ...] = ()  # the first MAX_WARNINGS; `warning_count` has them all
    warning_count: int = 0
    manifest_version: int = MANIFEST_VERSION
    migrator_version: str = MIGRATOR_VERSION

    def step(self, step_id: str) -> StepEntry:
        return next(s for s in self.steps if s.id == step_id)

    def summary(self, step_name: str) -> SourceSummary:
        return next(s for s in self.sources if s.step == step_name)

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": self.manifest_version,
            "migrator_version": self.migrator_version,
            "plan": {
                "name": self.plan_name,
                "file": self.plan_file,
                "checksum": self.plan_checksum,
                "description": self.description,
            },
            "strict": self.strict,
            "variables": self.variables,
            **({"fake": self.fake} if self.fake else {}),
            "steps": [s.to_json() for s in self.steps],
            "sources": [s.to_json() for s in self.sources],
            "rejects": {"path": REJECTS_FILE, "rows": self.rejects},
            "missing_parents": {"path": MISSING_PARENTS_FILE, "rows": self.missing_parents},
            "unchanged": {"path": UNCHANGED_FILE, "rows": self.unchanged},
            "warnings": {"count": self.warning_count, "shown": [asdict(w) for w in self.warnings]},
            "totals": self.totals(),
        }

    def totals(self) -> dict[str, int]:
        return {
            "source_rows": sum(s.source_rows for s in self.sources),
            "filtered": sum(s.filtered for s in self.sources),
            "rejected": self.rejects,
            "rows": sum(s.rows for s in self.sources),
            "unchanged": self.unchanged,
            "missing_parents": self.missing_parents,
            "steps": len(self.steps),
            "parts": sum(len(s.parts) for s in self.steps),
        }


def write_manifest(manifest: Manifest, directory: Path) -> Path:
    path = directory / MANIFEST_FILE
    text = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def read_manifest(directory: Path) -> Manifest:
    """Load a manifest, refusing versions this migrator does not know."""
    path = directory / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RunStateError(f"{path}: no compiled plan here (run `migrator plan` first)") from exc
    except json.JSONDecodeError as exc:
        raise RunStateError(f"{path}: not valid JSON ({exc})") from exc
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise RunStateError(
            f"{path}: manifest version {version} is not supported (expected {MANIFEST_VERSION})"
        )
    steps = tuple(
        StepEntry(
            **{
                **{k: v for k, v in s.items() if k != "pass"},
                "pass_no": s["pass"],
                "depends_on": tuple(s["depends_on"]),
                "columns": tuple(s["columns"]),
                "binary_fields": tuple(s.get("binary_fields", ())),
                "parts": tuple(PartEntry(**{**p, "locks": tuple(LockRange(**lk) for lk in p.get("locks", ()))})
                               for p in s["parts"]),
            }
        )
        for s in data["steps"]
    )
    sources = tuple(
        SourceSummary(
            **{
                **s,
                "files": tuple(s["files"]),
                "lookups": tuple(
                    LookupEntry(**{**lk, "headers": tuple(lk["headers"]), "targets": tuple(lk["targets"])})
                    for lk in s["lookups"]
                ),
            }
        )
        for s in data["sources"]
    )
    plan = data["plan"]
    return Manifest(
        plan_name=plan["name"],
        plan_file=plan["file"],
        plan_checksum=plan["checksum"],
        description=plan.get("description"),
        strict=data["strict"],
        steps=steps,
        sources=sources,
        rejects=data["rejects"]["rows"],
        missing_parents=data["missing_parents"]["rows"],
        variables=data.get("variables", {}),
        unchanged=(data.get("unchanged") or {}).get("rows", 0),
        fake=data.get("fake", {}),
        warnings=tuple(SourceWarning(**w) for w in data.get("warnings", {}).get("shown", ())),
        warning_count=data.get("warnings", {}).get("count", 0),
        manifest_version=version,
        migrator_version=data["migrator_version"],
    )
