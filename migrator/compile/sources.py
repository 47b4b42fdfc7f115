"""A step's sources for the plan checks: the header of everything a source names.

`header_reader` makes the `HeaderReader` handed to `load_plan` (the plan checks see that the
columns a plan names exist before anything runs), whatever the kind: a CSV header, a Parquet
schema, the keys of a JSON file's first block, an Excel header row, a SQL result's columns.
Reading stays minimal, so validating a plan over huge files stays instant; the scanning reader
(`validate --sources`) reads everything instead, to find what only a full read finds (an unclosed
quote, an undecodable byte past the sample, a JSON line that does not parse).

Databases are handed in (the configuration resolves them, with their passwords): compile never
reads migrator.toml.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from migrator.compile.readers import ReadContext, open_readers
from migrator.compile.readers.base import Database
from migrator.compile.readers.csvfile import check_encoding, read_header, text_encoding
from migrator.compile.readers.files import display_name, resolve_source
from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec
from migrator.plan.source_checks import HeaderReader, SourceHeader

__all__ = ["check_encoding", "display_name", "header_reader", "read_header", "read_headers", "resolve_source",
           "scan_headers", "text_encoding"]


def _headers(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...], databases: Mapping[str, Database], *,
             scan: bool) -> list[SourceHeader]:
    context = ReadContext(sources_dir=sources_dir, roots=roots, databases=databases)
    try:
        readers = open_readers(spec, context)
    except SourceDataError as exc:
        return [SourceHeader(spec.label, None, str(exc))]
    headers = []
    for reader in readers:
        try:
            columns = reader.columns()
        except SourceDataError as exc:
            headers.append(SourceHeader(reader.name, None, str(exc)))
            continue
        if not scan:
            headers.append(SourceHeader(reader.name, tuple(columns)))
            continue
        try:
            warnings = reader.scan()
        except SourceDataError as exc:
            headers.append(SourceHeader(reader.name, tuple(columns), str(exc)))
            continue
        headers.append(SourceHeader(reader.name, tuple(columns), None, tuple((w.line, w.message) for w in warnings)))
    return headers


def header_reader(databases: Mapping[str, Database] | None = None, *, scan: bool = False) -> HeaderReader:
    """The plan checks' reader of every source's header (`scan`: every source read in full), with
    the configured `databases` for SQL sources."""
    known = dict(databases or {})

    def read(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...]) -> list[SourceHeader]:
        return _headers(sources_dir, spec, roots, known, scan=scan)

    return read


def read_headers(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...]) -> list[SourceHeader]:
    """The header of every file `spec` matches (a `HeaderReader` for `load_plan`, without databases):
    its columns, or the error that kept them from being read, worded with the file's short name."""
    return _headers(sources_dir, spec, roots, {}, scan=False)


def scan_headers(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...]) -> list[SourceHeader]:
    """`read_headers`, with every file read in full (`validate --sources`): its errors (an unclosed
    quote, a byte the encoding cannot decode) and warnings (records a stray quote merged) too."""
    return _headers(sources_dir, spec, roots, {}, scan=True)
