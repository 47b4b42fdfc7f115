"""`migrator migrate`: apply the pending migrations in order, each as a normal run, and record them.

The sequence, as Flyway's: load and checksum every migration of the folder (all plan problems at
once, before anything is sent); open the org and read its history; refuse drift (a changed
checksum, a vanished migration, one added out of order); then, under the history lock and on a
fresh read, run each pending migration in its own run directory and record it (version,
description, checksum, who, when, run id, row counts, outcome, migrator version). The first one that
fails is recorded as failed and stops the sequence; the next `migrate` applies it again. A dry run
checks each pending migration (the planner, or a check passed in) and writes nothing to the org.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.check.names import target_name_check
from migrator.compile.manifest import MIGRATOR_VERSION
from migrator.errors import DriftError, MigratorError
from migrator.history.connect import Connection, Settings, connect
from migrator.history.dryrun import CheckReport, MigrationCheck, planner_check
from migrator.history.entries import Counts, HistoryEntry, LockInfo
from migrator.history.folder import load_folder
from migrator.history.locking import holding_lock
from migrator.history.naming import Version
from migrator.history.report import MigratePaths, write_migrate_report
from migrator.history.states import InfoRow, LocalMigration, Resolution, resolve
from migrator.run.executor import RunOptions
from migrator.run.rundir import new_run_id, utc_iso
from migrator.run.runner import RunRequest, RunResult, execute

Event = Callable[[str, Mapping[str, object]], None]


@dataclass(frozen=True)
class MigrateOptions:
    to: Version | None = None
    dry_run: bool = False
    out_of_order: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False
    run_options: RunOptions = field(default_factory=RunOptions)
    lock_wait: float = 0.0


@dataclass(frozen=True)
class Applied:
    """One migration this `migrate` ran: its history entry and its run's directory."""

    migration: LocalMigration
    entry: HistoryEntry
    run_dir: Path | None

    def as_dict(self) -> dict[str, Any]:
        return {"migration": self.migration.file.label, "script": self.migration.file.script,
                "outcome": self.entry.outcome, "run_id": self.entry.run_id or None,
                "run_dir": str(self.run_dir) if self.run_dir else None, "entry": self.entry.as_dict()}


@dataclass(frozen=True)
class MigrateResult:
    """What `migrate` did to one org: the history before and after, each migration applied (or,
    in a dry run, checked), and the report linking their runs. Exit code 0, or 1 if one failed."""

    migrate_id: str
    org_id: str
    target: str
    history: str
    dry_run: bool
    before: tuple[InfoRow, ...]
    after: tuple[InfoRow, ...]
    applied: tuple[Applied, ...] = ()
    checks: tuple[CheckReport, ...] = ()
    pending: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    paths: MigratePaths | None = None

    @property
    def up_to_date(self) -> bool:
        return not self.pending

    @property
    def exit_code(self) -> int:
        if any(entry.outcome == "failed" for entry in (a.entry for a in self.applied)):
            return 1
        return 1 if any(not check.ok for check in self.checks) else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0, "migrate_id": self.migrate_id, "dry_run": self.dry_run,
            "org_id": self.org_id, "target": self.target, "history": self.history, "up_to_date": self.up_to_date,
            "pending": list(self.pending), "applied": [a.as_dict() for a in self.applied],
            "checks": [c.as_dict() for c in self.checks], "warnings": list(self.warnings),
            "before": [r.as_dict() for r in self.before], "after": [r.as_dict() for r in self.after],
            "report": str(self.paths.report) if self.paths else None, "exit_code": self.exit_code,
        }


def refuse_drift(resolution: Resolution, *, out_of_order: bool) -> None:
    problems = resolution.problems(out_of_order=out_of_order)
    if problems:
        lines = "\n".join(f"  {p['message']}" for p in problems)
        raise DriftError(f"the migrations do not match the history; nothing was applied:\n{lines}", problems)


def migrate(settings: Settings, options: MigrateOptions, *, check: MigrationCheck | None = None,
            on_event: Event | None = None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> MigrateResult:
    emit: Event = on_event or (lambda kind, data: None)
    local = load_folder(settings.folder, options.variables)
    migrate_id = new_run_id(now())
    paths = MigratePaths.of(settings.home, migrate_id)
    with connect(settings) as conn:
        before = resolve(local, conn.store.read())
        refuse_drift(before, out_of_order=options.out_of_order)
        todo = before.pending(to=options.to, out_of_order=options.out_of_order)
        emit("migrate_started", {"migrate_id": migrate_id, "org_id": conn.identity.org_id,
                                 "history": conn.store.location, "pending": [m.file.label for m in todo],
                                 "dry_run": options.dry_run})
        applied: list[Applied] = []
        checks: list[CheckReport] = []
        if options.dry_run:
            checker = check or planner_check(strict=options.strict, extra_checks=(target_name_check(conn.target),))
            checks = [_checked(checker, m, paths, emit) for m in todo]
        elif todo:
            lock = LockInfo(holder=migrate_id, since=utc_iso(now()), by=conn.identity.username)
            with holding_lock(conn.store, lock, wait=options.lock_wait, clock=settings.clock, on_event=emit):
                history = conn.store.read()  # another run may have applied some meanwhile
                fresh = resolve(local, history)
                refuse_drift(fresh, out_of_order=options.out_of_order)
                todo = fresh.pending(to=options.to, out_of_order=options.out_of_order)
                applied = _apply(conn, settings, options, todo, history.next_rank, emit, now)
        after = resolve(local, conn.store.read()) if applied else before
        result = MigrateResult(
            migrate_id=migrate_id, org_id=conn.identity.org_id, target=conn.target.name,
            history=conn.store.location, dry_run=options.dry_run, before=before.rows, after=after.rows,
            applied=tuple(applied), checks=tuple(checks), pending=tuple(m.file.label for m in todo),
            warnings=tuple(before.warnings()), paths=paths)
    write_migrate_report(paths, result.as_dict())
    emit("migrate_done", {"migrate_id": migrate_id, "exit_code": result.exit_code})
    return result


def _checked(checker: MigrationCheck, migration: LocalMigration, paths: MigratePaths, emit: Event) -> CheckReport:
    emit("migration_started", {"migration": migration.file.label, "dry_run": True})
    report = checker(migration, paths.dry_run_dir(migration.file.script))
    emit("migration_done", {"migration": migration.file.label, "dry_run": True, "ok": report.ok})
    return report


def _apply(conn: Connection, settings: Settings, options: MigrateOptions, todo: list[LocalMigration], rank: int,
           emit: Event, now: Callable[[], datetime]) -> list[Applied]:
    applied: list[Applied] = []
    for index, migration in enumerate(todo, 1):
        emit("migration_started", {"migration": migration.file.label, "index": index, "total": len(todo)})
        started = settings.clock.monotonic()
        result, error = _run(conn, settings, options, migration, emit)
        entry = _entry(migration, rank, result, error, conn.identity.username, utc_iso(now()),
                       settings.clock.monotonic() - started)
        conn.store.save([entry])
        applied.append(Applied(migration, entry, result.paths.root if result else None))
        emit("migration_done", {"migration": migration.file.label, "outcome": entry.outcome,
                                "run_id": entry.run_id, "message": entry.message})
        rank += 1
        if entry.outcome != "success":
            break
    return applied


def _run(conn: Connection, settings: Settings, options: MigrateOptions, migration: LocalMigration,
         emit: Event) -> tuple[RunResult | None, str | None]:
    request = RunRequest(plan_path=migration.path, target=conn.target.name, variables=dict(migration.variables),
                         strict=options.strict, options=options.run_options, home=settings.home,
                         project_dir=settings.project_dir)
    try:
        return execute(request, on_event=emit, env=settings.env, clock=settings.clock,
                       connection=(conn.target, conn.api)), None
    except MigratorError as exc:  # it could not even start (its plan or data broke since loading)
        return None, str(exc)


def _entry(migration: LocalMigration, rank: int, result: RunResult | None, error: str | None, by: str,
           applied_at: str, seconds: float) -> HistoryEntry:
    results = result.results if result else {}
    totals = results.get("totals") or {}
    ok = result is not None and result.exit_code == 0
    message = "" if ok else (error or results.get("error") or _failure_text(results))
    return HistoryEntry(
        rank=rank, kind=migration.file.kind, description=migration.file.description,
        outcome="success" if ok else "failed",
        version=str(migration.file.version) if migration.file.version else None, script=migration.file.script,
        checksum=migration.checksum.value, digests=migration.checksum.digests, applied_at=applied_at, applied_by=by,
        run_id=result.paths.run_id if result else "", counts=Counts.from_totals(totals),
        seconds=round(float(results.get("elapsed_seconds") or seconds), 3), migrator_version=MIGRATOR_VERSION,
        message=message)


def _failure_text(results: Mapping[str, Any]) -> str:
    """One line on why a run failed: its counts and the server's most frequent error, with an example."""
    totals = results.get("totals") or {}
    parts = [f"{totals.get(k, 0):,} {k}" for k in ("failed", "skipped", "rejected") if totals.get(k)]
    if totals.get("links_failed"):
        parts.append(f"{totals['links_failed']:,} pass-2 links failed")
    text = f"run {str(results.get('status', '')).replace('_', ' ')}: " + (", ".join(parts) or "see its report")
    top = (results.get("top_errors") or [None])[0]
    if top:
        example = (top.get("examples") or [{}])[0]
        source = example.get("source_file")
        where = f" (e.g. {source}:{example.get('source_row')})" if source else ""
        text += f"; {top.get('code')} x{top.get('count')}: {top.get('message')}{where}"
    return text
