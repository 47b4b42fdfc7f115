"""The `migrator` command: a thin click layer over `migrator.api`.

It parses options, draws progress and tables with rich, turns exceptions into messages, and
maps outcomes to exit codes: 0 ok, 1 ran but some rows were refused or failed, 2 could not run.
`--format json` prints one JSON document on stdout instead of tables, for CI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from migrator import __version__, api
from migrator.errors import MigratorError, PlanError

FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output tables for people, or one JSON document for scripts.",
)
VARS = click.option(
    "--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="Override a plan variable (repeatable)."
)


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _fail(exc: MigratorError, output_format: str) -> None:
    if output_format == "json":
        _emit_json({"ok": False, **exc.as_dict()})
    else:
        err = _console(stderr=True)
        if isinstance(exc, PlanError):
            count = len(exc.problems)
            err.print(f"[bold red]{count} problem{'s' if count != 1 else ''} in the plan:[/]")
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
        else:
            err.print(f"[bold red]error:[/] {exc}", markup=True)
    sys.exit(exc.exit_code)


def _guarded(output_format: str, action: Callable[[], int]) -> None:
    try:
        code = action()
    except MigratorError as exc:
        _fail(exc, output_format)
    else:
        sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migrator")
def cli() -> None:
    """Declarative, YAML-driven data migrations for Salesforce."""


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sources", "check_sources", is_flag=True, help="Also check every column against the source files.")
@VARS
@FORMAT
def validate(plan_file: Path, check_sources: bool, var_pairs: tuple[str, ...], output_format: str) -> None:
    """Check PLAN_FILE against the plan schema and itself; report every problem with file:line."""

    def action() -> int:
        result = api.validate(plan_file, variables=api.parse_variables(var_pairs), check_sources=check_sources)
        plan = result.plan
        if output_format == "json":
            _emit_json(
                {
                    "ok": True,
                    "plan": plan.name,
                    "file": str(plan_file),
                    "checked_sources": check_sources,
                    "steps": [{"name": s.name, "object": s.object, "operation": s.operation} for s in plan.objects],
                }
            )
        else:
            what = "plan and sources" if check_sources else "plan"
            _console().print(f"[green]✓[/] {plan_file}: {what} valid ({len(plan.objects)} steps)")
        return 0

    _guarded(output_format, action)


def _plan_table(result: api.PlanResult) -> Table:
    manifest = result.manifest
    table = Table(title=f"Plan {manifest.plan_name}: {len(manifest.steps)} steps", title_justify="left")
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
        table.add_row(
            str(step.wave), step.id, step.object, step.operation, where, f"{step.rows:,}", rejects, str(len(step.parts))
        )
    totals = manifest.totals()
    table.add_section()
    table.add_row(
        "",
        "total",
        "",
        "",
        "",
        f"{sum(s.rows for s in manifest.steps):,}",
        str(totals["rejected"]),
        str(totals["parts"]),
    )
    return table


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
@VARS
@FORMAT
def plan(
    plan_file: Path,
    out_dir: Path | None,
    strict: bool,
    graph: str | None,
    var_pairs: tuple[str, ...],
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
            out.print(f"Wrote {totals['parts']} part(s) to [bold]{result.out_dir}[/]")
            if manifest.rejects:
                out.print(f"[yellow]{manifest.rejects} row(s) rejected[/]: see {result.out_dir / 'rejects.csv'}")
            if manifest.missing_parents:
                out.print(
                    f"[yellow]{manifest.missing_parents} row(s) name a parent that is not in the source data[/] "
                    f"(they may exist in the org): see {result.out_dir / 'missing_parents.csv'}"
                )
        return 1 if strict and manifest.rejects else 0

    _guarded(output_format, action)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
