"""What every source reader hands the planner: chunks of text columns, each row with a reference.

A source is read as all-text columns whatever its kind (the transforms convert explicitly), in
chunks so that memory stays flat. Every row carries a reference that fits its kind, so a reject
points at the row as the user would find it:

| kind | `file` | `refs` (one per row) |
|---|---|---|
| CSV, JSON Lines | the file's name | the physical line (an int): `accounts.csv` line 17 |
| JSON array | the file's name | `[16]`: the index in the array |
| Parquet | the file's name | `row group 2, row 17` |
| Excel | the file's name | `sheet Accounts, row 17` (the row number Excel shows) |
| SQL | `erp.accounts` (database and table) or `erp query` | `id 42` (the table's key) or `row 17` |

The row types (`SourceChunk`, `InvalidRow`, `SourceWarning`) are CSV's, defined in `csvread`:
for kinds without lines, `lines` and `InvalidRow.line` hold the text reference.

`SourceReader` is the seam: one object per file (or query) that knows its columns cheaply and
yields `SourceChunk`s. A kind that produces rows instead of reading them (generated sources) fits
the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.compile.csvread import TEXT, InvalidRow, SourceChunk, SourceWarning, as_text_frame

__all__ = ["TEXT", "Database", "InvalidRow", "ReadContext", "SourceChunk", "SourceReader", "SourceWarning",
           "as_text_frame", "empty_frame", "numbered_refs", "scan_chunks", "where"]


@dataclass(frozen=True)
class Database:
    """A database a SQL source reads, as the configuration resolved it. `url` holds no password;
    `password` (from the environment) is added only when connecting and is never shown."""

    name: str
    url: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    error: str | None = None  # why it cannot be used (a variable that is not set), said when a source uses it

    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs besides the step's source: where relative paths start, the folders a
    plan may read, the configured databases, and the chunk size."""

    sources_dir: Path
    roots: tuple[Path, ...] = ()
    databases: Mapping[str, Database] = field(default_factory=dict)
    block_bytes: int = 2 * 1024 * 1024
    names_from: Path | None = None  # files are named relative to this folder (default: sources_dir)


class SourceReader(Protocol):
    """One file (or query) of a step's source."""

    name: str  # how messages show it: the file's name relative to the sources, or `erp.accounts`
    kind: str

    def columns(self) -> tuple[str, ...]:
        """The column names, read cheaply (a header, a schema, the first block)."""
        ...

    def chunks(self) -> Iterator[SourceChunk]:
        """Every row, in order, as chunks of text columns."""
        ...

    def scan(self) -> list[SourceWarning]:
        """Read everything (for `validate --sources`): raise what `chunks` would raise, return
        warnings (rows that would be rejected among them)."""
        ...


def empty_frame(columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=TEXT) for c in columns})


def scan_chunks(reader: SourceReader) -> list[SourceWarning]:
    """A full read of a reader whose rows can only be wrong as whole records (not CSV's quoting)."""
    found: list[SourceWarning] = []
    for chunk in reader.chunks():
        found += list(chunk.warnings)
        found += [SourceWarning(r.file, r.line, f"record {r.row} cannot be read ({r.reason}); plan rejects it")
                  for r in chunk.invalid]
    return found


def numbered_refs(prefix: str, first: int, count: int, suffix: str = "") -> pd.api.extensions.ExtensionArray:
    """`prefix + n + suffix` for n in first .. first + count - 1, as Arrow-backed text (built in Arrow:
    a million references cost milliseconds, not a million Python strings)."""
    numbers = pa.array(np.arange(first, first + count, dtype=np.int64)).cast(pa.string())
    text = pc.binary_join_element_wise(pa.scalar(prefix), numbers, pa.scalar(suffix), "")
    return pd.array(text, dtype=TEXT)


def where(file: str, ref: object) -> str:
    """A row's place in words: `accounts.csv line 17`, `accounts.json[16]`,
    `accounts.parquet, row group 2, row 17`, `erp.accounts, id 42`."""
    text = str(ref)
    if text.isdigit():
        return f"{file} line {text}"
    if text.startswith("["):
        return f"{file}{text}"
    return f"{file}, {text}"
