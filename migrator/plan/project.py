"""A plan's project: the folder whose files a plan may read, and where its `migrator.toml` is.

The configuration is found the way git, ruff and pytest find theirs: in the plan's folder, else in
the nearest folder above it (`migrator.toml`, or a `pyproject.toml` with a `[tool.migrator]`
table; `migrator.toml` wins in the same folder). The project is the folder holding the plan, and
the folder holding that configuration: a plan reads sources only inside them, unless the user
allows more on the command line (`--allow-path DIR`), so a plan from elsewhere cannot read
`../../etc/passwd` or any absolute path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

CONFIG_FILE = "migrator.toml"
PYPROJECT = "pyproject.toml"


def _has_migrator_table(pyproject: Path) -> bool:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # not ours to judge: it is only looked at for a [tool.migrator] table
    tool = data.get("tool")
    return isinstance(tool, dict) and "migrator" in tool


def find_config(start: Path) -> Path | None:
    """The configuration file for a plan in folder `start` (or for the working directory)."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate / CONFIG_FILE
        if (candidate / PYPROJECT).is_file() and _has_migrator_table(candidate / PYPROJECT):
            return candidate / PYPROJECT
    return None


def config_start(plan_file: Path | None, fallback: Path) -> Path:
    """The folder a plan's configuration is looked for from (then upward): the plan's own folder,
    or `fallback` (the working directory) when there is no plan file to go by."""
    return plan_file.resolve().parent if plan_file is not None and plan_file.is_file() else fallback


def project_roots(plan_file: Path, allowed: Iterable[Path] = ()) -> tuple[Path, ...]:
    """The folders a plan may read from: its own, its configuration's, and those allowed."""
    plan_dir = plan_file.resolve().parent
    roots = [plan_dir]
    config = find_config(plan_dir)
    if config is not None:
        roots.append(config.parent)
    roots += [Path(p).expanduser().resolve() for p in allowed]
    return tuple(dict.fromkeys(roots))


def inside(path: Path, roots: Iterable[Path]) -> bool:
    """True if `path` (resolved: symbolic links followed, `..` removed) lies in one of `roots`."""
    resolved = path.resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)
