"""What a person sees after a run: the terminal summary and the self-contained HTML report.

Everything here reads one thing, the `run_results.json` dict the executor writes, so that `migrator
status` and `migrator report` can redraw any past run without the executor. The functions are pure
(data in, renderable or text out) except `write_report`, the one place that touches files.

The HTML report must open anywhere, offline and years later (attached to a ticket, archived with
the run): one file with inline CSS and an inline SVG chart, no scripts, no fonts or images to fetch,
links relative to the run directory so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import markupsafe
from rich.table import Table
from rich.text import Text

from migrator.run.rundir import RunPaths, atomic_write_bytes, load_results

STATUS_LABELS = {
    "succeeded": "Succeeded",
    "completed_with_failures": "Completed with failures",
    "nothing_sent": "Nothing sent",
    "interrupted": "Interrupted",
    "error": "Error",
}
_STATUS_STYLES = {"succeeded": "bold green", "completed_with_failures": "bold yellow",
                  "nothing_sent": "bold red", "interrupted": "bold cyan", "error": "bold red"}

# Outcome -> (legend label, colour). The colours are also what the browser test looks for in the screenshot.
OUTCOMES: dict[str, tuple[str, str]] = {
    "succeeded": ("Succeeded", "#16a34a"),
    "failed": ("Failed", "#dc2626"),
    "skipped": ("Skipped (parent did not load)", "#f59e0b"),
    "pending": ("No outcome yet (run stopped)", "#94a3b8"),
    "rejected": ("Rejected before sending", "#7c3aed"),
    "unchanged": ("Unchanged (not sent)", "#cbd5e1"),
}
_STEP_DEFAULTS: dict[str, Any] = {
    "step": "", "object": "", "operation": "", "api": "", "pass": 1, "level": 0, "wave": 0, "rows": 0,
    "sent": 0, "succeeded": 0, "created": 0, "updated": 0, "deleted": 0, "failed": 0, "skipped": 0,
    "in_flight": 0, "not_sent": 0, "unchanged": 0, "retried": 0, "jobs": 0, "seconds": 0.0, "error_codes": {},
    "files": {}, "api_calls": 0, "lock_failures": 0, "serial": False,
}
_SOURCE_DEFAULTS: dict[str, Any] = {"step": "", "object": "", "files": [], "source_rows": 0, "filtered": 0,
                                    "rejected": 0, "unchanged": 0, "to_send": 0, "sent": 0, "succeeded": 0,
                                    "failed": 0, "skipped": 0, "in_flight": 0, "not_sent": 0, "selected": True,
                                    "masked": {}, "generated": None}
_TOTAL_KEYS = ("source_rows", "filtered", "rejected", "unchanged", "to_send", "sent", "succeeded", "created",
               "updated", "deleted", "failed", "skipped", "in_flight", "not_sent", "retried", "jobs", "api_calls",
               "lock_failures")
SHOWN_REASONS, SHOWN_CODES = 3, 5  # listed in the terminal caption; the rest are counted
_TEMPLATES = Path(__file__).parent / "templates"


# --- shared formatting -----------------------------------------------------------------------


def fmt_int(value: Any) -> str:
    return f"{int(value or 0):,}"


def fmt_rows(value: Any) -> str:
    return f"{fmt_int(value)} row" + ("" if int(value or 0) == 1 else "s")


def fmt_duration(seconds: Any) -> str:
    """12.3 s, 4 min 05 s, 2 h 03 min: precise for short steps, readable for long runs."""
    value = float(seconds or 0)
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_time(iso: str | None) -> str:
    return iso.replace("T", " ").replace("Z", " UTC") if iso else "—"


def normalize(results: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `results` with every key the views read filled in.

    An interrupted or failed run writes partial results (no steps yet, no totals); the views should
    show what is known rather than break on what is not.
    """
    data = dict(results)
    version_1 = results.get("run_results_version") == 1
    data["steps"] = [{**_STEP_DEFAULTS, **_v1_sent(step, "rows", version_1),
                      "id": step.get("id") or step.get("step") or "?"} for step in results.get("steps") or []]
    data["sources"] = [{**_SOURCE_DEFAULTS, **_v1_sent(source, "to_send", version_1)}
                       for source in results.get("sources") or []]
    data["totals"] = {key: 0 for key in _TOTAL_KEYS} | _v1_sent(dict(results.get("totals") or {}), "to_send",
                                                                version_1)
    data["plan"] = {"name": "", "file": "", "checksum": "", "description": ""} | dict(results.get("plan") or {})
    data["target"] = {"name": "", "kind": "", "instance_url": "", "api_version": ""} | dict(results.get("target") or {})
    data["options"] = dict(results.get("options") or {})
    data["files"] = dict(results.get("files") or {})
    data["top_errors"] = list(results.get("top_errors") or [])
    data["fake"] = dict(results.get("fake") or {})
    data["reject_reasons"] = list(results.get("reject_reasons") or [])
    data.setdefault("status", "error")
    data.setdefault("run_id", "")
    for key in ("error", "resume_command", "started_at", "finished_at", "migrator_version"):
        data.setdefault(key, None)
    data.setdefault("elapsed_seconds", 0.0)
    data["copy"] = _copy_section(results.get("copy"))
    return data


def _copy_section(section: Any) -> dict[str, Any] | None:
    """A copy's extract and cleanup (see extract/copy_command.py), every key the report reads filled in."""
    if not isinstance(section, Mapping):
        return None
    data = {"source": "", "extract_id": "", "rows": 0, "manifest": "", "warnings": [], "steps": [],
            "selection": {}} | dict(section)
    data["selection"] = {"where": {}, "limit": None} | dict(data["selection"] or {})
    clean = data.get("clean")
    data["clean"] = ({"operation": "delete", "records": 0, "run_id": None, "report": None} | dict(clean)
                     | {"steps": [{"by_key": 0, "by_where": 0, "deleted": 0, "files": {}} | dict(s)
                                  for s in clean.get("steps") or []]}) if isinstance(clean, Mapping) else None
    return data


def _v1_sent(counts: Mapping[str, Any], planned: str, version_1: bool) -> dict[str, Any]:
    """Version 1 results counted as `sent` every row planned (skipped ones too): read them as planned."""
    counts = dict(counts)
    if version_1:
        if planned != "rows":
            counts[planned] = counts.get("sent", 0)
        counts["sent"] = int(counts.get("succeeded", 0)) + int(counts.get("failed", 0))
    return counts


def _pending(counts: Mapping[str, Any]) -> int:
    """Rows with no outcome yet: never sent, or sent in a job whose results were not read."""
    return int(counts.get("not_sent") or 0) + int(counts.get("in_flight") or 0)


def _pass_level(step: Mapping[str, Any]) -> str:
    """`1`, `1 / L2` for a hierarchy level, `2` for a pass-2 update."""
    level = step.get("level")
    return f"{step['pass']}" if level is None else f"{step['pass']} / L{level}"


def _has_pass2(steps: list[dict[str, Any]]) -> bool:
    return any(step["pass"] != 1 for step in steps)


# --- terminal --------------------------------------------------------------------------------


def _count_cell(value: int, style: str) -> Text:
    return Text(fmt_int(value), style=style if value else "dim")


def summary_table(results: Mapping[str, Any]) -> Table:
    """One row per step, a totals row, and caption lines for plan-time rejects and top error codes."""
    data = normalize(results)
    status = data["status"]
    title = Text.assemble(
        (f"{data['plan']['name'] or 'run'}", "bold"), (f" · run {data['run_id']} · ", "dim"),
        (STATUS_LABELS.get(status, status), _STATUS_STYLES.get(status, "bold")),
    )
    table = Table(title=title, caption=_caption(data), caption_justify="left", header_style="bold")
    table.add_column("Wave", justify="right")
    table.add_column("Step", no_wrap=True)
    table.add_column("Object")
    table.add_column("Operation")
    table.add_column("Pass / level", justify="center")
    table.add_column("Rows", justify="right")
    table.add_column("Succeeded (created/updated)", justify="right")
    table.add_column("Failed", justify="right")
    table.add_column("Skipped", justify="right")
    pending = any(_pending(step) for step in data["steps"])
    if pending:
        table.add_column("Not done", justify="right")
    unchanged = _changed_only(data)
    if unchanged:
        table.add_column("Unchanged (not sent)", justify="right")
    table.add_column("Retried", justify="right")
    table.add_column("API calls", justify="right")
    table.add_column("Time", justify="right")
    for step in data["steps"]:
        cells = [
            Text(str(step["wave"])), Text(step["id"]), Text(step["object"]), Text(step["operation"]),
            Text(_pass_level(step)), Text(fmt_int(step["rows"])), _succeeded_cell(step),
            _count_cell(step["failed"], "bold red"), _count_cell(step["skipped"], "yellow"),
        ]
        cells += [_count_cell(_pending(step), "cyan")] if pending else []
        cells += [_count_cell(step["unchanged"], "")] if unchanged else []
        table.add_row(*cells, _count_cell(step["retried"], "cyan"), Text(fmt_int(step["api_calls"])),
                      Text(fmt_duration(step["seconds"])))
    totals = data["totals"]
    table.add_section()
    cells = [Text(""), Text("Total", style="bold"), Text(""), Text(""), Text(""), Text(fmt_int(totals["to_send"])),
             _succeeded_cell(totals), _count_cell(totals["failed"], "bold red"),
             _count_cell(totals["skipped"], "yellow")]
    cells += [_count_cell(_pending(totals), "cyan")] if pending else []
    cells += [_count_cell(totals["unchanged"], "")] if unchanged else []
    table.add_row(*cells, _count_cell(totals["retried"], "cyan"), Text(fmt_int(totals["api_calls"])),
                  Text(fmt_duration(data["elapsed_seconds"])), style="bold")
    return table


def _changed_only(data: Mapping[str, Any]) -> bool:
    """A changed-only run (or one with unchanged rows): its unchanged rows are shown as an outcome."""
    return bool(data["options"].get("changed_only") or data["totals"]["unchanged"])


def _succeeded_cell(counts: Mapping[str, Any]) -> Text:
    """`12 (10/2)`: created/updated; a delete step's rows are `5 (5 deleted)`, never "updated"."""
    text = Text(fmt_int(counts["succeeded"]), style="green" if counts["succeeded"] else "dim")
    deleted = int(counts.get("deleted") or 0)
    loaded = int(counts["created"]) + int(counts["updated"])
    if deleted and not loaded:
        text.append(f" ({fmt_int(deleted)} deleted)", style="dim")
    else:
        text.append(f" ({fmt_int(counts['created'])}/{fmt_int(counts['updated'])}"
                    + (f", {fmt_int(deleted)} deleted)" if deleted else ")"), style="dim")
    return text


def _more(listed: int, total: int, what: str) -> str:
    rest = total - listed
    return f", and {fmt_int(rest)} other {what}{'' if rest == 1 else 's'}" if rest > 0 else ""


def _caption(data: dict[str, Any]) -> Text | None:
    lines: list[Text] = []
    totals = data["totals"]
    if _has_pass2(data["steps"]):
        lines.append(Text("Totals count each source row once; pass-2 steps update rows already loaded.",
                          style="dim"))
    if totals["rejected"]:
        shown = data["reject_reasons"][:SHOWN_REASONS]
        reasons = ", ".join(f"{r.get('reason', '?')} ({fmt_int(r.get('count'))})" for r in shown)
        reasons += _more(len(shown), len(data["reject_reasons"]), "reason")
        lines.append(Text.assemble((f"Rejected before sending: {fmt_int(totals['rejected'])}", "magenta"),
                                   f" — {reasons}" if reasons else ""))
    if data["top_errors"]:
        shown = data["top_errors"][:SHOWN_CODES]
        codes = ", ".join(f"{e.get('code', '?')} ({fmt_int(e.get('count'))})" for e in shown)
        lines.append(Text.assemble(("Top errors: ", "red"), codes + _more(len(shown), len(data["top_errors"]),
                                                                          "error code")))
    return Text("\n").join(lines) if lines else None


def summary_lines(results: Mapping[str, Any], run_dir: Path | None = None) -> list[str]:
    """Plain lines for under the table: outcome, counts, where to look next, how to resume.

    Paths are relative to the run directory unless `run_dir` is given. The lines hold no rich markup
    (print them with markup off: error messages can contain square brackets).
    """
    data = normalize(results)
    totals = data["totals"]

    def where(relative: str) -> str:
        return str(run_dir / relative) if run_dir is not None else relative

    status = data["status"]
    exit_code = data.get("exit_code")
    exit_text = f" (exit code {exit_code})" if exit_code is not None else ""
    lines = [f"Run {data['run_id']}: {STATUS_LABELS.get(status, status).lower()} in "
             f"{fmt_duration(data['elapsed_seconds'])}{exit_text}"]
    if status == "nothing_sent":
        lines.append("Nothing was sent: every row was rejected before sending (see the rejected rows)")
    loaded = [f"{fmt_int(totals['created'])} created", f"{fmt_int(totals['updated'])} updated"]
    loaded += [f"{fmt_int(totals['deleted'])} deleted"] if totals["deleted"] else []
    counts = (
        f"{fmt_int(totals['source_rows'])} source rows, {fmt_int(totals['filtered'])} filtered out, "
        f"{fmt_int(totals['rejected'])} rejected before sending, "
        + (f"{fmt_int(totals['unchanged'])} unchanged (not sent: the target has them), " if _changed_only(data)
           else "")
        + f"{fmt_int(totals['sent'])} sent: "
        f"{fmt_int(totals['succeeded'])} succeeded ({', '.join(loaded)}), {fmt_int(totals['failed'])} failed; "
        f"{fmt_int(totals['skipped'])} skipped"
    )
    if _pending(totals):
        counts += (f"; {fmt_int(totals['not_sent'])} not sent yet, {fmt_int(totals['in_flight'])} sent with "
                   "no result yet")
    lines.append(counts)
    if data["error"]:
        lines.append(f"Error: {data['error']}")
    failed_files = [step["files"]["failed"] for step in data["steps"] if step["failed"] and step["files"].get("failed")]
    if failed_files:
        lines.append("Failed rows: " + ", ".join(where(path) for path in failed_files))
    if totals["rejected"] and data["files"].get("rejects"):
        lines.append(f"Rejected rows: {where(data['files']['rejects'])}")
    if totals["unchanged"] and data["files"].get("unchanged"):
        lines.append(f"Unchanged rows (not sent): {where(data['files']['unchanged'])}")
    lines.append(f"Report: {where(data['files'].get('report', 'report.html'))}")
    if data["resume_command"]:
        lines.append(f"Resume with: {data['resume_command']}")
    return lines


# --- chart -----------------------------------------------------------------------------------

CHART_WIDTH = 1000
_LABEL_WIDTH = 250
_BAR_X = 260
_BAR_WIDTH = 560
_ROW_HEIGHT = 40
_BAR_HEIGHT = 20
_TOP = 4
_MIN_SEGMENT = 3.0


@dataclass(frozen=True)
class Segment:
    outcome: str
    label: str
    color: str
    count: int
    x: float
    width: float
    percent: float


@dataclass(frozen=True)
class Bar:
    step_id: str
    label: str
    sublabel: str
    total: int
    y: float
    segments: tuple[Segment, ...]

    @property
    def succeeded_percent(self) -> float:
        return next((s.percent for s in self.segments if s.outcome == "succeeded"), 0.0)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bar_x: int
    bar_width: int
    bar_height: int
    bars: tuple[Bar, ...]


def _segments(counts: Mapping[str, int]) -> tuple[Segment, ...]:
    """Lay out a 100% stacked bar; a non-zero outcome keeps a few pixels so one failure in 100k shows."""
    total = sum(counts.values())
    if not total:
        return ()
    widths = {name: max(_MIN_SEGMENT, count / total * _BAR_WIDTH) for name, count in counts.items() if count}
    widest = max(widths, key=lambda name: widths[name])
    widths[widest] -= sum(widths.values()) - _BAR_WIDTH
    segments, x = [], float(_BAR_X)
    for name, width in widths.items():
        label, color = OUTCOMES[name]
        segments.append(Segment(name, label, color, counts[name], round(x, 2), round(width, 2),
                                round(counts[name] / total * 100, 1)))
        x += width
    return tuple(segments)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def outcome_chart(results: Mapping[str, Any]) -> Chart:
    """One bar per step: succeeded, failed, skipped and not yet done rows, and the plan-time rejects.

    Rows rejected before sending belong to a plan step, not to one execution step. When the plan step
    has a single pass-1 step they are drawn on its bar (they are that step's rows); when it has several
    (hierarchy levels) they get a bar of their own, since no level sent them. A plan step whose rows
    were all rejected gets a bar of its own too.
    """
    data = normalize(results)
    pass1_steps: dict[str, int] = {}
    for step in data["steps"]:
        pass1_steps[step["step"]] = pass1_steps.get(step["step"], 0) + (step["pass"] == 1)
    rejects = {source["step"]: int(source["rejected"]) for source in data["sources"] if source["selected"]}
    claimed: set[str] = set()
    rows: list[tuple[str, str, dict[str, int]]] = []
    for step in data["steps"]:
        counts = {name: int(step[name]) for name in ("succeeded", "failed", "skipped")} | {"pending": _pending(step)}
        counts["unchanged"] = int(step["unchanged"])
        if step["pass"] == 1 and pass1_steps[step["step"]] == 1 and rejects.get(step["step"]):
            claimed.add(step["step"])
            counts["rejected"] = rejects[step["step"]]
        sublabel = f"{step['object']} · {step['operation']}" + (" · pass 2" if step["pass"] != 1 else "")
        rows.append((step["id"], sublabel, counts))
    for source in data["sources"]:
        if source["step"] in rejects and source["step"] not in claimed and source["rejected"]:
            what = "rejected before sending" if pass1_steps.get(source["step"]) else "nothing sent"
            rows.append((source["step"], f"{source['object']} · {what}", {"rejected": int(source["rejected"])}))
    bars = tuple(
        Bar(step_id, _truncate(step_id, 30), _truncate(sublabel, 38), sum(counts.values()),
            _TOP + index * _ROW_HEIGHT, _segments(counts))
        for index, (step_id, sublabel, counts) in enumerate(rows)
    )
    return Chart(CHART_WIDTH, _TOP + max(len(bars), 1) * _ROW_HEIGHT, _BAR_X, _BAR_WIDTH, _BAR_HEIGHT, bars)


# --- HTML ------------------------------------------------------------------------------------


def _href(path: str) -> str:
    """A relative link to a file of the run; quoting turns a stray `scheme:` into an inert `%3A`."""
    return quote(str(path).replace("\\", "/"))


def _breakable(code: str) -> markupsafe.Markup:
    """Let long error codes (FIELD_CUSTOM_VALIDATION_EXCEPTION) wrap at underscores, not mid-word."""
    return markupsafe.Markup("_<wbr>").join(markupsafe.escape(part) for part in str(code).split("_"))


def _environment() -> jinja2.Environment:
    # Our own template, not user input: a normal Environment with autoescape (the sandbox is for plans).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(num=fmt_int, rows=fmt_rows, breakable=_breakable, duration=fmt_duration, when=fmt_time,
                       href=_href)
    return env


def render_html(results: Mapping[str, Any]) -> str:
    """The self-contained report page for one run (every value escaped by the template engine)."""
    data = normalize(results)
    balance = [
        {**source,
         "unaccounted": (source["source_rows"] - source["filtered"] - source["rejected"] - source["unchanged"]
                         - source["to_send"])
         + (source["to_send"] - source["succeeded"] - source["failed"] - source["skipped"] - _pending(source))}
        for source in data["sources"]
    ]
    return _environment().get_template("report.html.j2").render(
        r=data, chart=outcome_chart(data), sources=balance, outcomes=OUTCOMES,
        status_label=STATUS_LABELS.get(data["status"], data["status"]), has_pass2=_has_pass2(data["steps"]),
        has_deletes=any(step["deleted"] or step["operation"] in ("delete", "hardDelete") for step in data["steps"]),
        pending=any(_pending(step) for step in data["steps"]),
    )


def write_report(run_dir: Path) -> Path:
    """Read the run's `run_results.json`, write `report.html` next to it (atomically), return its path."""
    paths = RunPaths(Path(run_dir))
    html = render_html(load_results(paths))
    atomic_write_bytes(paths.report, html.encode("utf-8"))
    return paths.report
