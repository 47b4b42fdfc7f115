"""Migration file names: ``V<version>__<description>.yaml`` and ``R__<description>.yaml``.

Flyway's convention, so a team that knows it reads a folder at a glance: the version is digits
separated by dots or underscores (``V1_1__fix.yaml`` is version 1.1) and orders numerically
(``V10`` after ``V9``; ``V001`` and ``V1`` are the same version); the description is the rest of
the name with underscores read as spaces. Repeatable migrations (``R__``) have no version and run
again whenever their checksum changes. Any other YAML file at the top of the folder is an error
rather than silently skipped: ``V3_contacts.yaml`` (one underscore) is a typo, not a decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path
from typing import Literal

from migrator.errors import MigrationsError, Problem

Kind = Literal["versioned", "repeatable"]
PLAN_SUFFIXES = (".yaml", ".yml")
_VERSIONED = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<description>[^\s].*)$")
_REPEATABLE = re.compile(r"^R__(?P<description>[^\s].*)$")
EXPECTED = "expected V<version>__<description>.yaml (V001__accounts.yaml) or R__<description>.yaml"


@total_ordering
@dataclass(frozen=True)
class Version:
    """A migration version: compared part by part as numbers, trailing zeros ignored (1.0 == 1)."""

    text: str

    @classmethod
    def parse(cls, text: str) -> Version:
        cleaned = str(text).strip().lstrip("Vv").replace("_", ".")
        if not re.fullmatch(r"\d+(\.\d+)*", cleaned):
            raise ValueError(f"{text!r} is not a version (digits separated by dots, such as 3 or 1.2)")
        return cls(cleaned)

    @property
    def key(self) -> tuple[int, ...]:
        parts = [int(part) for part in self.text.split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __str__(self) -> str:
        return self.text


def identity(kind: str, version: str | Version | None, description: str) -> tuple[str, object]:
    """What a migration *is*, whatever its file is called: a version, or a repeatable's description."""
    if kind == "versioned":
        return (kind, version if isinstance(version, Version) else Version.parse(version or "0"))
    if kind == "repeatable":
        return (kind, description.lower())
    return (kind, None)


def label(kind: str, version: str | Version | None, description: str) -> str:
    """``V001 accounts`` / ``R reference data`` / ``baseline at V2``: how tables and messages name it."""
    if kind == "versioned":
        return f"V{version} {description}"
    if kind == "repeatable":
        return f"R {description}"
    return f"baseline at V{version}"


@dataclass(frozen=True)
class MigrationFile:
    """One migration plan in the folder, as its name describes it."""

    path: Path
    kind: Kind
    description: str
    version: Version | None = None

    @property
    def script(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return label(self.kind, self.version, self.description)

    @property
    def key(self) -> tuple[str, object]:
        return identity(self.kind, self.version, self.description)


def parse_name(path: Path) -> MigrationFile | None:
    """The migration a file name stands for, or None when it follows neither pattern."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    if match := _VERSIONED.match(stem):
        return MigrationFile(path, "versioned", _description(match["description"]),
                             Version.parse(match["version"]))
    if match := _REPEATABLE.match(stem):
        return MigrationFile(path, "repeatable", _description(match["description"]))
    return None


def _description(raw: str) -> str:
    return " ".join(raw.replace("_", " ").split())


def discover(folder: Path) -> list[MigrationFile]:
    """Every migration in `folder`: versioned ones by version, then repeatables by description.

    Only YAML files directly in the folder count (data and history live in subfolders). Raises
    MigrationsError naming every file that is not a migration name and every version or repeatable
    description used twice.
    """
    if not folder.is_dir():
        raise MigrationsError([Problem("the migrations folder does not exist", file=str(folder))])
    problems: list[Problem] = []
    found: list[MigrationFile] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in PLAN_SUFFIXES:
            continue
        migration = parse_name(path)
        if migration is None:
            problems.append(Problem(f"not a migration name: {EXPECTED}", file=str(path)))
        else:
            found.append(migration)
    problems += _duplicates(found)
    if problems:
        raise MigrationsError(problems)
    versioned = sorted((m for m in found if m.version is not None), key=lambda m: m.version.key)  # type: ignore[union-attr]
    repeatable = sorted((m for m in found if m.version is None), key=lambda m: m.description.lower())
    return versioned + repeatable


def _duplicates(found: list[MigrationFile]) -> list[Problem]:
    seen: dict[object, MigrationFile] = {}
    problems = []
    for migration in found:
        key = migration.version or migration.description.lower()
        first = seen.setdefault(key, migration)
        if first is not migration:
            what = f"version {migration.version}" if migration.version else f"repeatable {migration.description!r}"
            problems.append(Problem(f"{what} is also {first.script}: each may appear once", file=str(migration.path)))
    return problems
