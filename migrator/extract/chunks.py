"""Reading downloaded result pages: text columns named as the SOQL selected them.

Pages are read with Arrow's CSV reader with every column declared text, so ``00123`` stays
``00123`` and an empty value is an empty string (Bulk API CSV cannot tell null from empty).
Columns are named by the SOQL path in lower case (the org may echo paths in its own case). A
Bulk API 1.0 result set without rows is the line ``Records not found for this query``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

NO_RECORDS = "Records not found for this query"
BLOCK_BYTES = 4 << 20


def _header(path: Path) -> list[str] | None:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        first = next(csv.reader(handle), None)
    if not first or first == [NO_RECORDS]:
        return None
    return first


def read_chunk(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A page as a table of text columns named by lower-case SOQL path; an empty table when it has
    no rows. `columns` (lower case) limits what is read."""
    header = _header(path) if path.stat().st_size else None
    if header is None:
        return pa.table({c: pa.array([], pa.string()) for c in columns or []})
    names = [h.lower() for h in header]
    include = [n for n in names if n in set(columns)] if columns is not None else None
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, include_columns=include,
                                             strings_can_be_null=False, quoted_strings_can_be_null=False))
    if columns is not None:
        missing = [c for c in columns if c not in table.column_names]
        for name in missing:
            table = table.append_column(name, pa.array([""] * table.num_rows, pa.string()))
        table = table.select(columns)
    return table


def count_rows(path: Path) -> int:
    """Records in a page (its header excluded)."""
    header = _header(path) if path.stat().st_size else None
    if header is None:
        return 0
    return read_chunk(path, [header[0].lower()]).num_rows
