"""Source readers: one module per kind, all behind one seam (`base.SourceReader`).

`open_readers` turns a step's `source:` into the readers of what it names: one per matching file
(CSV, Parquet, JSON Lines, JSON array, Excel, chosen by extension or `kind:`), or one for a SQL
query or table. The planner and the plan checks see only readers, so every kind gets the same
transforms, checks, rejects and memory behaviour. A new kind (generated rows, say) registers a
factory in `FACTORIES`: it takes the step's source and the read context and returns readers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from migrator.compile.readers.base import ReadContext, SourceReader
from migrator.compile.readers.csvfile import CsvReader
from migrator.compile.readers.excel import ExcelReader
from migrator.compile.readers.files import display_name, resolve_source
from migrator.compile.readers.jsonfile import JsonArrayReader, JsonLinesReader
from migrator.compile.readers.parquet import ParquetReader
from migrator.compile.readers.sql import SqlReader
from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec
from migrator.plan.source_kinds import kind_of

__all__ = ["FACTORIES", "ReadContext", "SourceReader", "file_reader", "open_readers", "source_kind"]

ReaderFactory = Callable[[SourceSpec, ReadContext], list[SourceReader]]


def file_reader(path: Path, name: str, spec: SourceSpec, context: ReadContext) -> SourceReader:
    """The reader of one file, by the step's `kind:` or the file's extension."""
    kind = kind_of(spec, path)
    if kind == "parquet":
        return ParquetReader(path, name, spec.columns, context.block_bytes)
    if kind == "jsonl":
        return JsonLinesReader(path, name, spec.columns, spec.encoding, context.block_bytes)
    if kind == "json":
        return JsonArrayReader(path, name, spec.columns, spec.encoding, context.block_bytes)
    if kind == "xlsx":
        return ExcelReader(path, name, spec.sheet, spec.header_row, spec.columns)
    return CsvReader(path, name, spec.encoding, spec.delimiter, context.block_bytes)


def _files(spec: SourceSpec, context: ReadContext) -> list[SourceReader]:
    files = resolve_source(context.sources_dir, spec, context.roots or None)
    kinds = {kind_of(spec, path) for path in files}
    if len(kinds) > 1:
        raise SourceDataError(f"source {spec.pattern!r} matches files of different kinds ({', '.join(sorted(kinds))}); "
                              "one step reads one kind: narrow the pattern or set kind")
    base = context.names_from or context.sources_dir
    return [file_reader(path, display_name(path, base), spec, context) for path in files]


def _sql(spec: SourceSpec, context: ReadContext) -> list[SourceReader]:
    return [SqlReader(spec, context)]


FACTORIES: dict[str, ReaderFactory] = {"sql": _sql}


def source_kind(spec: SourceSpec) -> str:
    """The factory a source goes to: its `kind:` when one is registered, else files."""
    if spec.is_sql:
        return "sql"
    return spec.kind if spec.kind in FACTORIES else "files"


def open_readers(spec: SourceSpec, context: ReadContext) -> list[SourceReader]:
    """The readers of everything a step's source names ([] when a file pattern matches nothing)."""
    return FACTORIES.get(source_kind(spec), _files)(spec, context)
