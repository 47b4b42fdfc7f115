"""Terminal tables of extracts, copies and deletes (the CLI prints them; `--format json` prints the
results' `to_json()` instead). Values are drawn as plain text, never read as markup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=Text(title), title_justify="left")
    for column in columns:
        table.add_column(Text(column), justify="right" if column in ("rows", "records", "deleted") else "left")
    return table


def extract_table(result: Any) -> Table:
    """Per step: object, how it was read (whole object or subset), rows and file."""
    table = _table(f"Extract {result.extract_id}", ["step", "object", "read", "rows", "file"])
    for step in result.files:
        table.add_row(*(Text(str(v)) for v in (step.step, step.object, step.mode, f"{step.rows:,}", step.file)))
    return table


def extract_lines(result: Any) -> list[str]:
    lines = [f"{result.rows:,} rows in {len(result.files)} file(s) in {result.out_dir}; "
             f"manifest: {result.out_dir / 'extract_manifest.json'}"]
    computed = [f"{s['step']}.{c['field']}" for s in result.manifest.get("steps", []) for c in s.get("computed", [])]
    if computed:
        lines.append(f"computed by the plan, not extracted: {', '.join(computed)}")
    lines += [f"warning: {w}" for w in result.warnings]
    return lines


def delete_table(found: Mapping[str, Any], title: str) -> Table:
    """Per step (children first): records found by key and by delete_where, and deleted."""
    table = _table(title, ["step", "object", "by key", "by delete_where", "records", "deleted"])
    for step in found.get("steps", []):
        table.add_row(*(Text(str(v)) for v in (
            step["step"], step["object"], f"{step['by_key']:,}", f"{step['by_where']:,}", f"{step['records']:,}",
            "-" if step.get("deleted") is None else f"{step['deleted']:,}")))
    return table
