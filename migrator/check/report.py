"""What a person sees after `migrator check`: the problems, the rejects, the limits and the
predicted outcome as rich renderables and plain lines. Pure: a `CheckResult` in, renderables out."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from migrator.check.check_command import CheckResult

_COLUMNS = (("step", "left"), ("object", "left"), ("operation", "left"), ("source rows", "right"),
            ("filtered", "right"), ("rejected", "right"), ("create", "right"), ("update", "right"),
            ("unchanged", "right"), ("delete", "right"), ("not found", "right"), ("parent missing", "right"))


def _n(value: int, style: str = "") -> Text:
    return Text(f"{value:,}", style=style if value else "dim")


def forecast_table(result: CheckResult) -> Table:
    table = Table(title=f"Predicted outcome on {result.target}", title_justify="left")
    for name, justify in _COLUMNS:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    totals = dict.fromkeys(("source_rows", "filtered", "rejected", "created", "updated", "unchanged", "deleted",
                            "not_found", "parent_missing"), 0)
    for f in result.forecast:
        table.add_row(f.step, f.object, f.operation, _n(f.source_rows), _n(f.filtered), _n(f.rejected, "magenta"),
                      _n(f.created, "green"), _n(f.updated, "cyan"), _n(f.unchanged), _n(f.deleted),
                      _n(f.not_found, "red"), _n(f.parent_missing, "red"))
        for key in totals:
            totals[key] += getattr(f, key)
    table.add_section()
    table.add_row("total", "", "", *(_n(totals[k]) for k in totals))
    return table


def reject_lines(result: CheckResult, limit: int = 20) -> list[str]:
    """One line per refused row: file:line, step, field, value and reason."""
    manifest = result.manifest
    if manifest is None or not manifest.rejects:
        return []
    lines = [f"{manifest.rejects:,} row(s) would be rejected before sending:"]
    for r in result.rejects[:limit]:
        value = r.get("value", "")
        shown = value if len(value) <= 60 else value[:57] + "..."
        lines.append(f"  {r.get('source_file')}:{r.get('source_row')}: {r.get('step')}.{r.get('field')} "
                     f"= {shown!r}: {r.get('reason')}")
    if manifest.rejects > min(limit, len(result.rejects)):
        lines.append(f"  ... and {manifest.rejects - min(limit, len(result.rejects)):,} more")
    if result.out_dir is not None:
        lines.append(f"  every reject: {result.out_dir / 'rejects.csv'}")
    return lines


def summary_lines(result: CheckResult) -> list[str]:
    lines = []
    if result.problems:
        count = len(result.problems)
        lines.append(f"{count} problem{'s' if count != 1 else ''} against {result.target} (the plan cannot run):")
        lines += [f"  {p}" for p in result.problems]
    lines += reject_lines(result)
    for use in result.limits:
        if not use.fits:
            lines.append(f"refused: {use.message()}")
    lines += [f"note: {note}" for note in result.notes]
    verdict = {0: "nothing would be refused", 1: f"{result.refused_rows:,} row(s) would be refused",
               2: "the plan cannot run as it is"}[result.exit_code]
    lines.append(f"check against {result.target}: {verdict}")
    return lines
