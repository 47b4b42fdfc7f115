"""What people see in the terminal: the history table of `info` and the summaries of the other verbs.

Pure: results in, rich renderables or plain lines out (the CLI prints them). The same states and
colours as the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from migrator.history.report import STATE_LABELS
from migrator.history.states import InfoRow
from migrator.run.report import fmt_int

STATE_STYLES = {
    "success": "green", "baseline": "green", "pending": "cyan", "outdated": "cyan", "failed": "bold red",
    "changed": "bold red", "missing": "bold red", "ignored": "yellow", "future": "yellow",
    "superseded": "dim", "cleared": "dim", "deleted": "dim", "below_baseline": "dim",
}


def _when(iso: str) -> str:
    """``2026-11-29T09:30:12Z`` -> ``2026-11-29 09:30:12`` (UTC, as every time migrator shows)."""
    return iso.replace("T", " ").removesuffix("Z")


def history_table(rows: Sequence[InfoRow], title: str) -> Table:
    """Flyway's info table: one line per history entry, then the migrations not applied yet."""
    table = Table(title=title, title_justify="left", header_style="bold", caption="times in UTC",
                  caption_justify="left")
    for name, justify in (("#", "right"), ("Version", "left"), ("Description", "left"), ("State", "left"),
                          ("Checksum", "left"), ("Applied at", "left"), ("By", "left"), ("Run", "left"),
                          ("Loaded", "right"), ("Failed", "right")):
        table.add_column(name, justify=justify, no_wrap=name in ("Applied at", "Run"))  # type: ignore[arg-type]
    for row in rows:
        entry = row.entry
        checksum = entry.checksum if entry else (row.local.checksum.value if row.local else "")
        version = Text(row.version or "", style="bold") if row.kind != "repeatable" else Text("repeatable", "dim")
        table.add_row(
            str(entry.rank) if entry else "", version, row.description,
            Text(STATE_LABELS.get(row.state, row.state), style=STATE_STYLES.get(row.state, "")),
            checksum[:10], _when(entry.applied_at) if entry else "", entry.applied_by if entry else "",
            entry.run_id if entry else "",
            fmt_int(entry.counts.loaded) if entry and entry.kind != "baseline" else "",
            fmt_int(entry.counts.failed) if entry and entry.counts.failed else "",
            style="dim" if row.state in ("superseded", "cleared", "deleted", "below_baseline") else None,
        )
    if not rows:
        table.add_row("", "", Text("no migrations and no history", style="dim"), *([""] * 7))
    return table


def migrate_lines(result: dict[str, Any]) -> list[str]:
    """Plain lines under the table: what was done, what failed and why, where the report is."""
    lines = []
    where = f"org {result['org_id']} (target {result['target']}, history in {result['history']})"
    if result["dry_run"]:
        pending = result["pending"]
        lines.append(f"Dry run on {where}: {len(pending)} migration(s) would be applied" +
                     (f": {', '.join(pending)}" if pending else "; the org is up to date"))
        for check in result["checks"]:
            mark = "✓" if check["ok"] else "✗"
            lines.append(f"  {mark} {check['script']}: {fmt_int(check['rows'])} row(s) to send, "
                         f"{fmt_int(check['rejected'])} rejected, {fmt_int(check['missing_parents'])} missing parents")
            lines += [f"      {problem}" for problem in check["problems"]]
    elif not result["applied"]:
        lines.append(f"{where} is up to date: no migration to apply")
    else:
        for applied in result["applied"]:
            entry = applied["entry"]
            counts = entry["counts"]
            mark = "✓" if entry["outcome"] == "success" else "✗"
            loaded = counts["created"] + counts["updated"]
            lines.append(f"{mark} {applied['migration']}: {entry['outcome']}, "
                         f"{fmt_int(loaded)} loaded, {fmt_int(counts['failed'])} failed, "
                         f"{fmt_int(counts['skipped'])} skipped, {fmt_int(counts['rejected'])} rejected "
                         f"(run {entry['run_id'] or '-'})")
            if entry["message"]:
                lines.append(f"    {entry['message']}")
            if entry["outcome"] != "success" and applied["run_dir"]:
                lines.append(f"    rows and reasons: {applied['run_dir']}/report.html")
        failed = [a for a in result["applied"] if a["entry"]["outcome"] != "success"]
        done = len(result["applied"]) - len(failed)
        lines.append(f"Applied {done} migration(s) to {where}" +
                     (f"; {failed[0]['migration']} failed and stopped the sequence: fix it and run "
                      "`migrator migrate` again to resume from it" if failed else ""))
    lines += [f"Warning: {warning}" for warning in result["warnings"]]
    if result.get("report"):
        lines.append(f"Report: {result['report']}")
    return lines


def _lock_text(lock: dict[str, Any]) -> str:
    return f"run {lock['holder']} ({lock['command']} by {lock['by'] or '?'}, since {lock['since'] or '?'})"


def info_lines(result: dict[str, Any]) -> list[str]:
    states = ", ".join(f"{count} {state.replace('_', ' ')}" for state, count in sorted(result["states"].items()))
    lines = [f"Target {result['target']}: {states or 'nothing yet'}"]
    if result["lock"]:
        lines.append(f"Locked by {_lock_text(result['lock'])}")
    return lines + [f"Warning: {warning}" for warning in result["warnings"]]


def baseline_lines(result: dict[str, Any]) -> list[str]:
    below = ", ".join(result["below_baseline"]) or "none in the folder"
    return [f"Baseline at V{result['baseline']['version']} recorded in {result['history']}; below it: {below}"]


def repair_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    lock = result["released_lock"]
    if lock:
        lines.append(f"Released the lock held by {_lock_text(lock)}")
    for action in result["actions"]:
        lines.append(f"{action['migration']}: {action['action']} ({action['detail']})")
    if not result["actions"]:
        lines.append(f"Nothing to repair in {result['history']}")
    return lines
