"""The kinds of source a step may read, and the checks of a step's `source:` that need no file.

A source is a file (CSV, Parquet, JSON Lines, a JSON array, an Excel workbook), chosen by its
extension unless `kind:` says otherwise, or a SQL database (`url:` with `query:` or `table:`).
Each kind takes only its own options: `delimiter` on a Parquet file or `sheet` on a CSV is a
mistake worth a word, not something to ignore. A SQL `url` never carries a password: it names a
`[databases]` entry of migrator.toml (whose password comes from the environment) or is a URL
without one, so a plan file can be shared and committed without leaking a credential.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from urllib.parse import urlsplit

from migrator.plan.checks import PlanContext
from migrator.plan.model import FILE_KINDS, SourceSpec
from migrator.plan.positions import Path as NodePath

EXTENSION_KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
                   ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".xlsx": "xlsx", ".xlsm": "xlsx"}
DATABASE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_OPTIONS_OF = {"encoding": ("csv", "jsonl", "json"), "delimiter": ("csv",), "sheet": ("xlsx",),
               "header_row": ("xlsx",)}
_SQL_ONLY = ("query", "table", "key")
SECRET_HINT = ("name a [databases] entry of migrator.toml instead, whose password_env names the environment "
               "variable holding the password")


def kind_of(spec: SourceSpec, file: PurePath | str | None = None) -> str:
    """The reader for `file` (or the step's pattern): `kind:` if given, else from the extension
    (unknown extensions are read as CSV, as before kinds existed)."""
    if spec.kind:
        return spec.kind
    name = PurePath(str(file if file is not None else spec.pattern))
    return EXTENSION_KINDS.get(name.suffix.lower(), "csv")


def is_database_name(url: str) -> bool:
    return bool(DATABASE_NAME.match(url))


def url_password(url: str) -> bool:
    """True when a URL carries a password (`postgresql://user:secret@host/db`)."""
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def sqlite_path(url: str) -> str | None:
    """The file of a `sqlite:///path` URL (None for other databases and for in-memory SQLite)."""
    match = re.match(r"^sqlite(?:\+\w+)?:///(.*)$", url)
    if match is None:
        return None
    path = match.group(1).split("?", 1)[0]
    return path if path and path != ":memory:" else None


def sqlite_file(url: str, sources_dir: Path) -> Path | None:
    """Where a SQLite URL's file is: relative paths start at the sources directory."""
    path = sqlite_path(url)
    return None if path is None else (sources_dir / path)


def spec_problems(ctx: PlanContext) -> None:
    """Check every step's `source:` for a shape the schema cannot express: a file or a url, the
    options of its kind only, a SQL source with a query or a table, and no password in a URL."""
    for index, step in ctx.steps:
        path: NodePath = ("objects", index, "source")
        raw = ctx.raw_step(index).get("source")
        if not isinstance(raw, dict) or ("file" not in raw and "url" not in raw) or ctx.flaws.touches(path):
            continue
        if "url" in raw and ("file" in raw or "generate" in raw):
            ctx.add(path, f"a source is a database (url) or {'a file' if 'file' in raw else 'generated rows'}, "
                    "not both")
            continue
        if "generate" in raw:
            continue
        if "url" in raw:
            _sql_problems(ctx, path, raw, step.source)
        else:
            _file_problems(ctx, path, raw, step.source)


def _sql_problems(ctx: PlanContext, path: NodePath, raw: dict, spec: SourceSpec) -> None:
    if spec.kind not in (None, "sql"):
        ctx.add((*path, "kind"), f"a source with a url is read as sql, not {spec.kind}")
    for key in _OPTIONS_OF:
        if key in raw:
            ctx.add((*path, key), f"{key} is for files; a SQL source reads typed columns")
    if ("query" in raw) == ("table" in raw):
        ctx.add(path, "a SQL source needs either a query or a table" if "query" not in raw else
                "a SQL source takes a query or a table, not both")
    url = str(raw["url"])
    if url_password(url):
        ctx.add((*path, "url"), "the url holds a password; credentials never go in the plan file", hint=SECRET_HINT)
    elif not is_database_name(url) and "://" not in url:
        ctx.add((*path, "url"), f"{url!r} is neither a [databases] name of migrator.toml nor a database URL",
                hint="e.g. erp, or postgresql://erp@127.0.0.1/erp, or sqlite:///legacy.db")


def _file_problems(ctx: PlanContext, path: NodePath, raw: dict, spec: SourceSpec) -> None:
    if spec.kind == "sql":
        ctx.add((*path, "kind"), "kind sql needs a url (and a query or a table), not a file")
        return
    for key in _SQL_ONLY:
        if key in raw:
            ctx.add((*path, key), f"{key} is for SQL sources (with a url)")
    kind = kind_of(spec)
    for key, kinds in _OPTIONS_OF.items():
        if key in raw and kind not in kinds:
            ctx.add((*path, key), f"{key} does not apply to a {kind} source (it is for {', '.join(kinds)})")
    assert kind in FILE_KINDS
