"""The `migrator` command: a thin click layer over `migrator.api`.

It parses options, draws progress and tables with rich, turns exceptions into messages, and
maps outcomes to exit codes: 0 ok, 1 ran but some rows were refused or failed (or nothing was
sent), 2 could not run, 130 interrupted (Ctrl-C), whatever the command. `--format json` prints one
JSON document on stdout instead of tables, for CI.

Text that comes from plans, data or servers (names, values, error messages) is printed as plain
text: never read as rich markup or emoji codes, so `[red]` or `:x:` in a message prints as written.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from migrator import __version__, api
from migrator.compile.binary_files import size_summary
from migrator.compile.manifest import MANIFEST_FILE
from migrator.errors import Interrupted, MigratorError, PlanError

FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output tables for people, or one JSON document for scripts.",
)
SCALE = click.option("--scale", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Multiply the row counts of generated sources (the first rows stay the same).")
VARS = click.option(
    "--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="Override a plan variable (repeatable)."
)
SOURCES_DIR = click.option(
    "--sources-dir", "sources_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Read the sources from this folder (laid out like the plan's sources.dir, e.g. `extract --out DIR`).")
ALLOW_PATH = click.option(
    "--allow-path", "allow_paths", multiple=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
    help="Also let sources be read from DIR (by default only inside the plan's folder and its migrator.toml's; "
         "repeatable).",
)


def _console(stderr: bool = False) -> Console:
    """A console that never reads markup or emoji codes in what it prints: styling comes only from
    `Text` objects built here and in the stage packages' renderables."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)
    if not console.is_terminal:  # CI logs: room for the tables instead of an 80-column squeeze
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, emoji=False,
                          width=max(console.width, 140))
    return console


def _table(title: str) -> Table:
    return Table(title=Text(title), title_justify="left")


def _row(table: Table, values: Any) -> None:
    table.add_row(*(Text(str(value)) for value in values))


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _fail(exc: MigratorError, output_format: str) -> None:
    if output_format == "json":
        _emit_json({"ok": False, **exc.as_dict()})
    else:
        err = _console(stderr=True)
        if isinstance(exc, PlanError):
            count = len(exc.problems)
            err.print(Text(f"{count} problem{'s' if count != 1 else ''} in the plan:", style="bold red"))
            for problem in exc.problems:
                err.print(Text(f"  {problem}"))
            _print_warnings(err, exc.warnings)
        else:
            label = "interrupted:" if isinstance(exc, Interrupted) else "error:"
            err.print(Text.assemble((label, "bold red"), " ", str(exc)))
    sys.exit(exc.exit_code)


def _print_warnings(console: Console, warnings: Any) -> None:
    for warning in warnings:
        console.print(Text(f"  warning: {warning}", style="yellow"))


def _print_source_warnings(console: Console, manifest: Any, manifest_file: Path) -> None:
    """A compiled plan's source warnings: the first ones the manifest keeps, and how many more."""
    _print_warnings(console, manifest.warnings)
    if manifest.warning_count > len(manifest.warnings):
        console.print(Text(f"  ... and {manifest.warning_count - len(manifest.warnings)} more warning(s): see "
                           f"{manifest_file}", style="yellow"))


def _guarded(output_format: str, action: Callable[[], int]) -> None:
    """Run a command: its exit code, or the error's (Ctrl-C anywhere exits 130, like a stopped run)."""
    try:
        code = action()
    except MigratorError as exc:
        _fail(exc, output_format)
    except KeyboardInterrupt:
        _fail(Interrupted("stopped by Ctrl-C"), output_format)
    else:
        sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migrator")
def cli() -> None:
    """Declarative, YAML-driven data migrations for Salesforce."""


TARGET = click.option(
    "--target", "-t", help="Target name from migrator.toml (default: env credentials, else the embedded local org)."
)
NAMES_TARGET = click.option("--target", "-t", help="Check object and field names against what this target is known "
                            "to have (default: the target a run would use).")


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sources", "check_sources", is_flag=True,
              help="Also read every source file in full: columns, encoding, quoting.")
@NAMES_TARGET
@VARS
@ALLOW_PATH
@FORMAT
def validate(plan_file: Path, check_sources: bool, target: str | None, var_pairs: tuple[str, ...],
             allow_paths: tuple[Path, ...], output_format: str) -> None:
    """Check PLAN_FILE against the plan schema, itself, its load graph and the names the target is
    known to have (and with --sources its source files); report every problem at once, each with
    file:line."""

    def action() -> int:
        result = api.validate(plan_file, variables=api.parse_variables(var_pairs), check_sources=check_sources,
                              target=target, allow_paths=allow_paths)
        plan = result.plan
        if output_format == "json":
            _emit_json(
                {
                    "ok": True,
                    "plan": plan.name,
                    "file": str(plan_file),
                    "checked_sources": check_sources,
                    "target": result.target,
                    "steps": [{"name": s.name, "object": s.object, "operation": s.operation} for s in plan.objects],
                    "warnings": [w.as_dict() for w in result.warnings],
                }
            )
        else:
            what = "plan and sources" if check_sources else "plan"
            names = f"; names checked against {result.target}" if result.target else ""
            _console().print(Text.assemble(("✓", "green"), f" {plan_file}: {what} valid ({len(plan.objects)} steps"
                                           f"{names})"))
            _print_warnings(_console(), result.warnings)
        return 0

    _guarded(output_format, action)


def _plan_table(result: api.PlanResult) -> Table:
    manifest = result.manifest
    table = _table(f"Plan {manifest.plan_name}: {len(manifest.steps)} steps")
    for name, justify in (
        ("wave", "right"),
        ("step", "left"),
        ("object", "left"),
        ("operation", "left"),
        ("pass/level", "left"),
        ("rows", "right"),
        ("rejects", "right"),
        ("parts", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    shown: set[str] = set()
    for step in manifest.steps:
        summary = manifest.summary(step.step)
        rejects = "" if step.step in shown else str(summary.rejected)
        shown.add(step.step)
        where = f"pass {step.pass_no}" + (f" / level {step.level}" if step.level is not None else "")
        _row(table, (step.wave, step.id, step.object, step.operation, where, f"{step.rows:,}", rejects,
                     len(step.parts)))
    totals = manifest.totals()
    table.add_section()
    _row(table, ("", "total", "", "", "", f"{sum(s.rows for s in manifest.steps):,}", totals["rejected"],
                 totals["parts"]))
    return table


def _fake_lines(manifest: Any) -> list[str]:
    """Which sources were generated and which fields masked (with the masking key's id)."""
    lines = [f"Generated {s.step}: {s.generated['rows']:,} rows (seed {s.generated['seed']})"
             for s in manifest.sources if s.generated]
    masked = [f"{s.step}.{name} ({how})" for s in manifest.sources for name, how in s.masked.items()]
    if masked:
        lines.append(f"Masked (key {manifest.fake.get('mask_key_id', '?')}): {', '.join(masked)}")
    return lines


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the manifest, CSV parts and rejects (default .migrator/plan/<name>).",
)
@click.option("--strict", is_flag=True, help="Reject rows whose parent is not in the source data; exit 1 on rejects.")
@click.option("--graph", type=click.Choice(["mermaid"]), help="Print the load graph instead of the table.")
@SCALE
@click.option("--target", "-t", help="Check object and field names against what this target is known to have, "
              "and key the masks with the secret its mask_secret_env names (default: the target a run would use).")
@SOURCES_DIR
@VARS
@ALLOW_PATH
@FORMAT
def plan(
    plan_file: Path,
    out_dir: Path | None,
    strict: bool,
    graph: str | None,
    scale: int,
    target: str | None,
    sources_dir: Path | None,
    var_pairs: tuple[str, ...],
    allow_paths: tuple[Path, ...],
    output_format: str,
) -> None:
    """Dry run: compile PLAN_FILE into the exact Bulk API CSVs a run would send."""

    def action() -> int:
        console = _console(stderr=True)
        with console.status("compiling plan...") as status:

            def on_event(kind: str, data: Any) -> None:
                if kind == "step_started":
                    status.update(f"compiling {data['step']}...")

            result = api.plan(
                plan_file,
                out_dir=out_dir,
                variables=api.parse_variables(var_pairs),
                strict=strict,
                scale=scale,
                target=target,
                sources_dir=sources_dir,
                allow_paths=allow_paths,
                on_event=on_event if output_format == "text" else None,
            )
        manifest = result.manifest
        if graph == "mermaid":
            click.echo(result.mermaid(), nl=False)
        elif output_format == "json":
            _emit_json({"ok": True, "out_dir": str(result.out_dir), "manifest": manifest.to_json()})
        else:
            out = _console()
            out.print(_plan_table(result))
            totals = manifest.totals()
            out.print(Text.assemble(f"Wrote {totals['parts']} part(s) to ", (str(result.out_dir), "bold")))
            _print_source_warnings(out, manifest, result.out_dir / MANIFEST_FILE)
            for line in [*_fake_lines(manifest), *size_summary(manifest.sources)]:
                out.print(line, markup=False)
            if manifest.rejects:
                out.print(Text.assemble((f"{manifest.rejects} row(s) rejected", "yellow"),
                                        f": see {result.out_dir / 'rejects.csv'}"))
            named = [s.name for s in result.plan.objects if any(f.record_type for f in s.fields)]
            if named:
                out.print(Text(f"note: record types are named, not resolved, in {', '.join(named)}: `migrator run` "
                               "turns the DeveloperNames into the target's Ids"))
            if manifest.missing_parents:
                out.print(Text.assemble(
                    (f"{manifest.missing_parents} row(s) name a parent this plan does not send", "yellow"),
                    " (not in the source data, filtered out, or rejected; `run` skips rows whose parent was "
                    f"rejected): see the why column of {result.out_dir / 'missing_parents.csv'}"))
        return 1 if strict and manifest.rejects else 0

    _guarded(output_format, action)


def _run_output(result: api.RunResult, output_format: str) -> int:
    from migrator.run import report

    if output_format == "json":
        _emit_json(result.results)
    else:
        out = _console()
        out.print(report.summary_table(result.results))
        for line in report.summary_lines(result.results, result.paths.root):
            out.print(Text(line))
        if result.manifest is not None:
            _print_source_warnings(out, result.manifest, result.paths.plan_dir / MANIFEST_FILE)
    return result.exit_code


def _progress(output_format: str) -> Any:
    from migrator.run.progress import RunProgress

    if output_format == "json":
        return contextlib.nullcontext(None)
    return RunProgress(_console(stderr=True))


HOME = click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=api.DEFAULT_HOME,
                    show_default=True, help="Where runs and the local org's database are kept.")


def _execution_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every command that loads data shares (run and retry)."""
    for option in reversed([
        TARGET,
        click.option("--max-retries", type=int, default=3, show_default=True,
                     help="Times a row that failed for a transient reason is sent again."),
        click.option("--send-orphans", is_flag=True, help="Send rows whose parent failed instead of skipping them."),
        click.option("--concurrency", type=int, default=4, show_default=True,
                     help="Most Bulk jobs running at once (fewer while the org asks to slow down)."),
        click.option("--input-order", is_flag=True,
                     help="Send rows in source order; do not group them by parent to avoid lock contention."),
        ALLOW_PATH,
        HOME,
        FORMAT,
    ]):
        command = option(command)
    return command


def _load(output_format: str, start: Callable[[Any], api.RunResult]) -> None:
    """Run `start(on_event)` under the live progress display, then print the summary."""

    def action() -> int:
        with _progress(output_format) as progress:
            result = start(progress)
        return _run_output(result, output_format)

    _guarded(output_format, action)


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--select", "-s", multiple=True, metavar="STEP[+]",
              help="Only these steps: Account, Account+ (and what depends on it), +Task (and what it needs).")
@click.option("--resume", "resume", metavar="RUN_ID", help="Finish an interrupted run without resending finished jobs.")
@click.option("--strict", is_flag=True, help="Reject rows whose parent is not in the source data; rejects exit 1.")
@SCALE
@click.option("--api-version", help="Salesforce API version, e.g. 62.0 (default: the target's, else 62.0).")
@click.option("--schema", "schema_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Extra org schema file for a local target (custom objects and fields; repeatable).")
@click.option("--no-check", "no_check", is_flag=True,
              help="Do not check the plan against the target's describe before sending.")
@click.option("--changed-only", is_flag=True,
              help="Send only rows that differ from the target's current values; the rest are 'unchanged'.")
@SOURCES_DIR
@VARS
@_execution_options
def run(plan_file: Path | None, select: tuple[str, ...], resume: str | None, strict: bool, scale: int,
        api_version: str | None, schema_files: tuple[Path, ...], no_check: bool, changed_only: bool,
        sources_dir: Path | None, var_pairs: tuple[str, ...], target: str | None, max_retries: int,
        send_orphans: bool, concurrency: int, input_order: bool, allow_paths: tuple[Path, ...],
        home: Path, output_format: str) -> None:
    """Load PLAN_FILE into the target (the embedded local org unless told otherwise), after checking
    it against the target's describe."""
    if plan_file is None and resume is None:
        raise click.UsageError("give a PLAN_FILE, or --resume RUN_ID")
    _load(output_format, lambda progress: api.run(
        plan_file, target=target, api_version=api_version, schema_files=schema_files,
        variables=api.parse_variables(var_pairs), select=select, max_retries=max_retries, strict=strict, scale=scale,
        send_orphans=send_orphans, concurrency=concurrency, input_order=input_order, resume=resume, check=not no_check,
        changed_only=changed_only, sources_dir=sources_dir, home=home, allow_paths=allow_paths, on_event=progress))


def _pk_chunk_size(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value) if value != "default" else 100_000
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a chunk size") from None


def _extract_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What `extract` and `copy` share: which records, and how to read them."""
    for option in reversed([
        click.option("--select", "-s", multiple=True, metavar="STEP[+]",
                     help="Only these steps: Account, Account+ (and steps looking it up), +Task (and its parents)."),
        click.option("--where", "-w", "where", multiple=True, metavar="OBJECT=CONDITION",
                     help="A subset: SOQL condition on an object, e.g. Account=\"Industry = 'Technology'\"; the "
                          "objects that look up to it follow, and the parents they need come too (repeatable)."),
        click.option("--limit", type=int, help="The first N records (by Id) of each root object, with their closure."),
        click.option("--pk-chunking", "pk_chunking", is_flag=False, flag_value="default", default=None,
                     metavar="[SIZE]", help="Read whole objects with Bulk API 1.0 PK chunking (chunks of SIZE, "
                     "default 100,000)."),
        click.option("--id-ranges", type=int, metavar="ROWS",
                     help="Read whole objects as Bulk API 2.0 jobs of ROWS records each, by Id range."),
        click.option("--workers", type=int, default=4, show_default=True, help="Pages and queries downloaded at once."),
    ]):
        command = option(command)
    return command


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "-f", "source", help="The org to read (a target from migrator.toml).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the source files (default: the plan's sources folder).")
@_extract_options
@click.option("--resume", metavar="EXTRACT_ID", help="Finish a stopped extract without downloading finished pages.")
@click.option("--strict", is_flag=True, help="Exit 1 when some values or links cannot come back exactly.")
@VARS
@HOME
@FORMAT
def extract(plan_file: Path | None, source: str | None, out_dir: Path | None, select: tuple[str, ...],
            where: tuple[str, ...], limit: int | None, pk_chunking: str | None, id_ranges: int | None, workers: int,
            resume: str | None, strict: bool, var_pairs: tuple[str, ...], home: Path, output_format: str) -> None:
    """Read PLAN_FILE's records from an org and write them as the plan's source files (its file and
    column names), sorted by key, so that `run` loads the same records; extract_manifest.json says
    where each column came from and what the plan computes."""
    from migrator.extract import report
    from migrator.extract.progress import ExtractProgress

    if plan_file is None and resume is None:
        raise click.UsageError("give a PLAN_FILE, or --resume EXTRACT_ID")

    def action() -> int:
        progress = ExtractProgress(_console(stderr=True)) if output_format == "text" else contextlib.nullcontext()
        with progress as on_event:
            result = api.extract(plan_file, source=source, out_dir=out_dir, select=select, where=where, limit=limit,
                                 pk_chunking=_pk_chunk_size(pk_chunking), id_ranges=id_ranges, workers=workers,
                                 variables=api.parse_variables(var_pairs), resume=resume, strict=strict, home=home,
                                 on_event=on_event)
        if output_format == "json":
            _emit_json(result.to_json())
        else:
            _console().print(report.extract_table(result))
            _print_lines(report.extract_lines(result))
        return result.exit_code

    _guarded(output_format, action)


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "-f", "source", help="The org to copy from (a target from migrator.toml).")
@click.option("--to", "target", help="The org to copy to (default: env credentials, else the embedded local org).")
@_extract_options
@click.option("--clean", is_flag=True, help="First delete the subset's records in the target (by key and each "
              "step's delete_where); a dry run unless --yes.")
@click.option("--yes", is_flag=True, help="Proceed with the deletes --clean found.")
@click.option("--hard-delete", is_flag=True, help="With --clean: hardDelete (no recycle bin).")
@click.option("--strict", is_flag=True, help="Reject rows whose parent is not in the data; rejects exit 1.")
@click.option("--no-check", "no_check", is_flag=True, help="Do not check the plan against the target first.")
@click.option("--changed-only", is_flag=True, help="Send only the rows that differ from the target.")
@click.option("--resume", metavar="RUN_ID", help="Finish a stopped copy (its extract, then its run).")
@click.option("--max-retries", type=int, default=3, show_default=True,
              help="Times a row that failed for a transient reason is sent again.")
@click.option("--concurrency", type=int, default=4, show_default=True, help="Bulk jobs running at once.")
@VARS
@HOME
@FORMAT
def copy(plan_file: Path | None, source: str | None, target: str | None, select: tuple[str, ...],
         where: tuple[str, ...], limit: int | None, pk_chunking: str | None, id_ranges: int | None, workers: int,
         clean: bool, yes: bool, hard_delete: bool, strict: bool, no_check: bool, changed_only: bool,
         resume: str | None, max_retries: int, concurrency: int, var_pairs: tuple[str, ...], home: Path,
         output_format: str) -> None:
    """Copy PLAN_FILE's records from one org to another: an extract (whole, or a subset with its
    closure), then a run of the plan on it, in one run directory with one report."""
    from migrator.extract import report
    from migrator.extract.progress import CopyProgress
    from migrator.run import report as run_report

    if plan_file is None and resume is None:
        raise click.UsageError("give a PLAN_FILE, or --resume RUN_ID")

    def action() -> int:
        progress = CopyProgress(_console(stderr=True)) if output_format == "text" else contextlib.nullcontext()
        with progress as on_event:
            result = api.copy(plan_file, source=source, target=target, select=select, where=where, limit=limit,
                              clean=clean, yes=yes, hard_delete=hard_delete, pk_chunking=_pk_chunk_size(pk_chunking),
                              id_ranges=id_ranges, workers=workers, variables=api.parse_variables(var_pairs),
                              max_retries=max_retries, concurrency=concurrency, strict=strict, check=not no_check,
                              changed_only=changed_only, resume=resume, home=home, on_event=on_event)
        if output_format == "json":
            _emit_json(result.to_json())
            return result.exit_code
        out = _console()
        out.print(report.extract_table(result.extract))
        _print_lines(report.extract_lines(result.extract))
        if result.clean is not None:
            title = "Cleanup (dry run: nothing deleted)" if result.clean.dry_run else "Cleanup"
            out.print(report.delete_table(result.clean.to_json(), title))
            if result.clean.dry_run:
                _print_lines([f"Records found are listed in {result.clean.list_dir}; nothing was deleted or "
                              "loaded. Run again with --yes to delete them and load."])
        if result.run is not None:
            out.print(run_report.summary_table(result.run.results))
            _print_lines(run_report.summary_lines(result.run.results, result.run.paths.root))
        return result.exit_code

    _guarded(output_format, action)


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@TARGET
@click.option("--select", "-s", multiple=True, metavar="STEP[+]",
              help="Only these steps' records (Account+: and the steps that look it up).")
@click.option("--yes", is_flag=True, help="Delete them (without it: a dry run that lists what would be deleted).")
@click.option("--hard-delete", is_flag=True, help="hardDelete: skip the recycle bin.")
@click.option("--max-retries", type=int, default=3, show_default=True,
              help="Times a row that failed for a transient reason is sent again.")
@click.option("--concurrency", type=int, default=4, show_default=True, help="Bulk jobs running at once.")
@VARS
@HOME
@FORMAT
def delete(plan_file: Path, target: str | None, select: tuple[str, ...], yes: bool, hard_delete: bool,
           max_retries: int, concurrency: int, var_pairs: tuple[str, ...], home: Path, output_format: str) -> None:
    """Delete PLAN_FILE's records from the target, children first: those of the keys its sources hold,
    and those each step's delete_where selects. A dry run unless --yes."""
    from migrator.extract import report
    from migrator.run import report as run_report

    def action() -> int:
        with _progress(output_format) as progress:
            result = api.delete(plan_file, target=target, select=select, yes=yes, hard_delete=hard_delete,
                                variables=api.parse_variables(var_pairs), max_retries=max_retries,
                                concurrency=concurrency, home=home, on_event=progress)
        if output_format == "json":
            _emit_json(result.to_json())
            return result.exit_code
        title = f"Delete from {result.target}" + (" (dry run: nothing deleted)" if result.dry_run else "")
        _console().print(report.delete_table(result.to_json(), title))
        if result.dry_run:
            _print_lines([f"{result.records:,} record(s) would be deleted; they are listed in {result.list_dir}. "
                          "Run again with --yes to delete them."])
        elif result.run is not None:
            _print_lines(run_report.summary_lines(result.run.results, result.run.paths.root))
        else:
            _print_lines(["Nothing to delete: the target holds none of the plan's records."])
        return result.exit_code

    _guarded(output_format, action)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Plan file to recompile (default: the one the run used).")
@_execution_options
def retry(run_id: str | None, plan_file: Path | None, target: str | None, max_retries: int, send_orphans: bool,
          concurrency: int, input_order: bool, allow_paths: tuple[Path, ...], home: Path,
          output_format: str) -> None:
    """Send again only the rows of RUN_ID (default: the last run) that were rejected, failed or skipped,
    recompiled from the current sources, after you fixed the data or the org."""
    _load(output_format, lambda progress: api.retry(
        run_id, plan_path=plan_file, target=target, max_retries=max_retries, send_orphans=send_orphans,
        concurrency=concurrency, input_order=input_order, home=home, allow_paths=allow_paths,
        on_event=progress))


@cli.command()
@click.argument("run_id", required=False)
@click.option("--list", "list_all", is_flag=True, help="List recent runs instead.")
@HOME
@FORMAT
def status(run_id: str | None, list_all: bool, home: Path, output_format: str) -> None:
    """Show what RUN_ID (default: the last run) did, or how far it has got."""
    from migrator.run import report

    def action() -> int:
        if list_all:
            runs = api.list_runs(home)
            if output_format == "json":
                _emit_json(runs)
            else:
                table = _table("Runs")
                for column in ("run_id", "plan", "created_at", "status", "retry_of"):
                    table.add_column(column)
                for item in runs:
                    _row(table, (item.get(c) or "" for c in ("run_id", "plan", "created_at", "status", "retry_of")))
                _console().print(table)
            return 0
        current = api.status(run_id, home=home)
        if current.results is not None:
            if output_format == "json":
                _emit_json(current.results)
            else:
                _console().print(report.summary_table(current.results))
                for line in report.summary_lines(current.results, current.paths.root):
                    _console().print(Text(line))
            return int(current.results["exit_code"])
        progress = current.progress()
        if output_format == "json":
            _emit_json({"run_id": current.paths.run_id, "status": current.state, "steps": progress,
                        "resume_command": current.resume_command})
        else:
            table = _table(f"Run {current.paths.run_id} ({current.state})")
            for column in ("step", "parts_done", "parts", "jobs_done", "jobs"):
                table.add_column(column)
            for item in progress:
                _row(table, (item[c] for c in ("step", "parts_done", "parts", "jobs_done", "jobs")))
            _console().print(table)
            if current.state == "compiling":
                _console().print(Text("still compiling, or stopped while compiling: nothing was sent yet, and "
                                      "--resume compiles the plan again"))
            _console().print(Text(f"resume with: {current.resume_command}"))
        return 0

    _guarded(output_format, action)


@cli.command()
@click.argument("action", type=click.Choice(["list", "abort", "delete"]), default="list")
@click.argument("job_ids", nargs=-1)
@TARGET
@click.option("--run", "run_id", metavar="RUN_ID", help="Only the jobs of this run.")
@HOME
@FORMAT
def jobs(
    action: str, job_ids: tuple[str, ...], target: str | None, run_id: str | None, home: Path, output_format: str
) -> None:
    """List the target's Bulk ingest jobs, or abort / delete jobs by id (or all jobs of --run)."""

    def action_() -> int:
        if action != "list" and not job_ids and not run_id:
            raise click.UsageError(f"jobs {action} needs job ids or --run RUN_ID")
        rows = api.remote_jobs(target=target, home=home, action=action, job_ids=job_ids, run_id=run_id)
        if output_format == "json":
            _emit_json(rows)
        else:
            table = _table(f"Jobs ({action})")
            columns = list(rows[0]) if rows else ["id", "state"]
            for column in columns:
                table.add_column(column)
            for item in rows:
                _row(table, (item.get(c) or "" for c in columns))
            _console().print(table)
        return 0

    _guarded(output_format, action_)


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@TARGET
@click.option("--schema", "schema_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Check against org schema files or snapshots instead of a live target (repeatable).")
@click.option("--sources/--no-sources", "sources", default=True, show_default=True,
              help="Read the sources: row checks against the target's fields, limits and the prediction.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the compiled rows and rejects (default .migrator/check/<plan>).")
@click.option("--strict", is_flag=True, help="Reject rows whose parent is not in the source data.")
@SCALE
@SOURCES_DIR
@VARS
@ALLOW_PATH
@HOME
@FORMAT
def check(plan_file: Path, target: str | None, schema_files: tuple[Path, ...], sources: bool, out_dir: Path | None,
          strict: bool, scale: int, sources_dir: Path | None, var_pairs: tuple[str, ...],
          allow_paths: tuple[Path, ...], home: Path, output_format: str) -> None:
    """The target-aware dry run of PLAN_FILE: every problem the target would refuse (plan file:line,
    source file:line), its limits, and the predicted rows created, updated, unchanged or refused.
    Exit 0: nothing would be refused; 1: some rows would be; 2: the plan cannot run."""
    from migrator.check import report

    def action() -> int:
        with _console(stderr=True).status("checking...") as status:

            def on_event(kind: str, data: Any) -> None:
                if kind == "step_started":
                    status.update(f"checking {data['step']}...")
                elif kind == "predicting":
                    status.update("querying the target for the plan's keys...")

            result = api.check(plan_file, target=target, schema_files=schema_files, sources=sources,
                               out_dir=out_dir, variables=api.parse_variables(var_pairs), strict=strict, scale=scale,
                               sources_dir=sources_dir, allow_paths=allow_paths, home=home,
                               on_event=on_event if output_format == "text" else None)
        if output_format == "json":
            _emit_json(result.to_json())
        else:
            if result.forecast:
                _console().print(report.forecast_table(result))
            _print_lines(report.summary_lines(result))
        return result.exit_code

    _guarded(output_format, action)


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@TARGET
@click.option("--objects", "object_list", metavar="A,B", help="Objects to describe (besides the plan's).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the snapshot here (default: print it).")
@VARS
@HOME
@FORMAT
def describe(plan_file: Path | None, target: str | None, object_list: str | None, out_file: Path | None,
             var_pairs: tuple[str, ...], home: Path, output_format: str) -> None:
    """Snapshot the target's schema of PLAN_FILE's objects (or --objects) as org-schema YAML, which
    `migrator serve --schema` loads and `migrator check --schema` checks plans against."""

    def action() -> int:
        objects = tuple(n.strip() for n in (object_list or "").split(",") if n.strip())
        result = api.describe(plan_file, target=target, objects=objects, out=out_file,
                              variables=api.parse_variables(var_pairs), home=home)
        if output_format == "json":
            _emit_json({"ok": True, "target": result.target, "objects": list(result.objects), "fields": result.fields,
                        "out": str(out_file) if out_file else None, **({} if out_file else {"snapshot": result.text})})
        elif out_file is None:
            click.echo(result.text, nl=False)
        else:
            _print_lines([f"Wrote the schema of {len(result.objects)} object(s), {result.fields} fields, from "
                          f"{result.target} to {out_file}"])
        return 0

    _guarded(output_format, action)


def _history_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every history command shares (migrate, info, baseline, repair)."""
    for option in reversed([
        TARGET,
        click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
                     help="The migrations folder (default: [migrations] dir of migrator.toml, else migrations/)."),
        click.option("--history", type=click.Choice(["org", "file"]),
                     help="Keep the history in the org's Migrator_Migration__c records (default) or in "
                          "<dir>/history/<org id>.json."),
        HOME,
        FORMAT,
    ]):
        command = option(command)
    return command


LOCK_WAIT = click.option("--lock-wait", type=float, default=0.0, show_default=True, metavar="SECONDS",
                         help="Wait this long for another run's history lock instead of stopping at once.")


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        _console().print(Text(line))


@cli.command()
@click.option("--to", "to", metavar="VERSION", help="Apply versions up to this one only.")
@click.option("--dry-run", is_flag=True, help="Check each pending migration (the planner) and apply nothing.")
@click.option("--out-of-order", is_flag=True, help="Also apply migrations older than the newest applied one.")
@click.option("--strict", is_flag=True, help="A migration with rejected rows fails.")
@click.option("--max-retries", type=int, default=3, show_default=True, help="Retries of rows that failed transiently.")
@click.option("--concurrency", type=int, default=4, show_default=True, help="Bulk jobs running at once.")
@LOCK_WAIT
@VARS
@_history_options
def migrate(to: str | None, dry_run: bool, out_of_order: bool, strict: bool, max_retries: int, concurrency: int,
            lock_wait: float, var_pairs: tuple[str, ...], target: str | None, folder: Path | None,
            history: str | None, home: Path, output_format: str) -> None:
    """Apply the pending migrations to the target org in order, each as a run, recording its history."""
    from migrator.history.progress import MigrateProgress
    from migrator.history.views import history_table, migrate_lines

    def action() -> int:
        with MigrateProgress(_console(stderr=True)) if output_format == "text" else contextlib.nullcontext() as shown:
            result = api.migrate(target=target, folder=folder, history=history, to=to, dry_run=dry_run,
                                 out_of_order=out_of_order, variables=api.parse_variables(var_pairs), strict=strict,
                                 max_retries=max_retries, concurrency=concurrency, lock_wait=lock_wait, home=home,
                                 on_event=shown)
        if output_format == "json":
            _emit_json(result.as_dict())
        else:
            if result.applied:
                _console().print(history_table(result.after, f"History of org {result.org_id}"))
            _print_lines(migrate_lines(result.as_dict()))
        return result.exit_code

    _guarded(output_format, action)


@cli.command()
@VARS
@_history_options
def info(var_pairs: tuple[str, ...], target: str | None, folder: Path | None, history: str | None, home: Path,
         output_format: str) -> None:
    """Show the target org's migration history: applied, pending, failed, changed and ignored migrations."""
    from migrator.history.views import history_table, info_lines

    def action() -> int:
        result = api.info(target=target, folder=folder, history=history, variables=api.parse_variables(var_pairs),
                          home=home)
        if output_format == "json":
            _emit_json(result.as_dict())
            return 0
        _console().print(history_table(result.rows, f"Migrations of org {result.org_id} (history in {result.history})"))
        _print_lines(info_lines(result.as_dict()))
        return 0

    _guarded(output_format, action)


@cli.command()
@click.option("--version", "version", required=True, metavar="VERSION", help="Migrations up to this count as applied.")
@click.option("--description", help="Description of the baseline entry.")
@LOCK_WAIT
@_history_options
def baseline(version: str, description: str | None, lock_wait: float, target: str | None, folder: Path | None,
             history: str | None, home: Path, output_format: str) -> None:
    """Start the history of an org loaded before migrator: mark every migration up to VERSION as applied."""
    from migrator.history.views import baseline_lines

    def action() -> int:
        result = api.baseline(version, target=target, folder=folder, history=history, description=description,
                              lock_wait=lock_wait, home=home)
        if output_format == "json":
            _emit_json(result.as_dict())
        else:
            _print_lines(baseline_lines(result.as_dict()))
        return 0

    _guarded(output_format, action)


@cli.command()
@click.option("--release-lock", is_flag=True, help="First break the history lock a killed run left behind.")
@LOCK_WAIT
@VARS
@_history_options
def repair(release_lock: bool, lock_wait: float, var_pairs: tuple[str, ...], target: str | None,
           folder: Path | None, history: str | None, home: Path, output_format: str) -> None:
    """Accept changed checksums, clear failed entries and mark vanished migrations deleted."""
    from migrator.history.views import repair_lines

    def action() -> int:
        result = api.repair(target=target, folder=folder, history=history, release_lock=release_lock,
                            variables=api.parse_variables(var_pairs), lock_wait=lock_wait, home=home)
        if output_format == "json":
            _emit_json(result.as_dict())
        else:
            _print_lines(repair_lines(result.as_dict()))
        return 0

    _guarded(output_format, action)


def _register_serve() -> None:
    """`migrator serve` comes from the local org package, which imports nothing from migrator."""
    try:
        from migrator.localorg.serve_command import serve
    except ImportError:  # pragma: no cover - the local org ships with migrator
        return
    cli.add_command(serve, name="serve")


_register_serve()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
