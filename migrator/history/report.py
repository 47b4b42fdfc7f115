"""The record of one `migrate`: ``.migrator/migrations/<id>/migrate.json`` and a self-contained report.html.

The report shows the org's history before and after, and for each migration applied its outcome,
row counts and a link to its own run report (relative, so the ``.migrator`` folder can be moved or
archived whole). Like the run report it opens anywhere: inline CSS, no scripts, nothing fetched,
every value escaped by the template engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from migrator.run.report import fmt_duration, fmt_int, fmt_time
from migrator.run.rundir import atomic_write_bytes, atomic_write_json, runs_root

MIGRATIONS_DIR = "migrations"
_TEMPLATES = Path(__file__).parent / "templates"
STATE_LABELS = {
    "success": "Success", "pending": "Pending", "failed": "Failed", "changed": "Changed", "outdated": "Outdated",
    "ignored": "Ignored", "below_baseline": "Below baseline", "baseline": "Baseline", "missing": "Missing",
    "future": "Future", "superseded": "Superseded", "cleared": "Cleared", "deleted": "Deleted",
}


@dataclass(frozen=True)
class MigratePaths:
    root: Path

    @classmethod
    def of(cls, home: Path, migrate_id: str) -> MigratePaths:
        """Where migrate `migrate_id` keeps its record (created when it is first written)."""
        return cls(home / MIGRATIONS_DIR / migrate_id)

    @property
    def results(self) -> Path:
        return self.root / "migrate.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def dry_run_dir(self, script: str) -> Path:
        return self.root / "dry-run" / Path(script).stem


def _link(root: Path, target: str | None) -> str | None:
    if not target:
        return None
    return Path(os.path.relpath(Path(target), root)).as_posix()


def render(data: dict[str, Any], root: Path) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=fmt_int, duration=fmt_duration, when=fmt_time,
                       state=lambda s: STATE_LABELS.get(s, s), short=lambda c: (c or "")[:12])
    applied = [{**item, "report_href": _link(root, f"{item['run_dir']}/report.html" if item["run_dir"] else None)}
               for item in data["applied"]]
    checks = [{**item, "dir_href": _link(root, item["out_dir"])} for item in data["checks"]]
    return env.get_template("migrate_report.html.j2").render(r=data, applied=applied, checks=checks,
                                                            run_links=_run_links(data, root))


def _run_links(data: dict[str, Any], root: Path) -> dict[str, str]:
    """Links to the run reports of history entries that ran from this machine's ``.migrator`` folder
    (entries applied elsewhere have their run directory there, not here)."""
    runs = runs_root(root.parent.parent)
    entries = [row["entry"] for row in (*data["before"], *data["after"]) if row["entry"]]
    reports = {entry["run_id"]: runs / entry["run_id"] / "report.html" for entry in entries if entry["run_id"]}
    return {run_id: str(_link(root, str(path))) for run_id, path in reports.items() if path.is_file()}


def write_migrate_report(paths: MigratePaths, data: dict[str, Any]) -> Path:
    atomic_write_json(paths.results, data)
    atomic_write_bytes(paths.report, render(data, paths.root).encode("utf-8"))
    return paths.report
