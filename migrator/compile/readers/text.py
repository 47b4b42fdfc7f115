"""Typed columns (Parquet, JSON, SQL, Excel) as the text the transforms read.

Every kind yields text, so that one plan gives the same parts whatever its data sits in: the
transforms convert explicitly (`type: date`, `type: number`), and a value reads as it would in a
CSV export. Conversions are vectorised in Arrow:

- integers and decimals as written (`1200.50` keeps its scale), floats in their shortest exact
  form (`1.5`, `1` for 1.0, `0.30000000000000004`);
- booleans `true` / `false`; dates `YYYY-MM-DD`; times `HH:MM:SS`; timestamps ISO 8601 with
  `T`, fractions only when present, and `Z` when the column has a time zone (converted to UTC);
- nested records as one column per leaf, named `a.b`; lists and maps as compact JSON;
- binary as base64; nulls as blanks.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.compile.readers.base import TEXT, as_text_frame, empty_frame


def _timestamp_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    kind: pa.TimestampType = column.type
    zoned = kind.tz is not None
    if zoned:
        column = column.cast(pa.timestamp(kind.unit, "UTC"))
    text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if kind.unit != "s":
        text = pc.replace_substring_regex(text, pattern=r"(\.\d*?)0+$", replacement=r"\1")
        text = pc.replace_substring_regex(text, pattern=r"\.$", replacement="")
    return pc.binary_join_element_wise(text, pa.scalar("Z"), "") if zoned else text


def _float_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Floats in their shortest exact form, never in exponent notation (`123456789012`, `0.00001`):
    the transforms read plain decimals."""
    return plain_decimal_text(column.cast(pa.string()))


def plain_decimal_text(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Numbers written as text (`1e-05`, `1.5e+20`) as plain decimals (`0.00001`); others as they are."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    exponent = pc.fill_null(pc.match_substring(text, "e"), False)
    if not pc.any(exponent).as_py():
        return text
    values = text.to_pylist()
    for position in np.flatnonzero(exponent.to_numpy(zero_copy_only=False)).tolist():
        number = Decimal(values[position])
        values[position] = format(number, "f") if number.is_finite() else values[position]
    return pa.array(values, pa.string())


def _python_text(values: Iterable[object]) -> pa.Array:
    """Lists, maps and other values Arrow cannot cast to text, as compact JSON (one by one)."""
    return pa.array([None if v is None else json.dumps(v, separators=(",", ":"), default=str, ensure_ascii=False)
                     for v in values], pa.string())


def column_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """One Arrow column as text (nulls stay null; `frame_text` blanks them)."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column
    if pa.types.is_dictionary(kind):
        return column_text(column.cast(kind.value_type))
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_timestamp(kind):
        return _timestamp_text(column)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return pa.array([None if v is None else base64.b64encode(v).decode("ascii") for v in column.to_pylist()],
                        pa.string())
    if pa.types.is_nested(kind) or pa.types.is_union(kind):
        return _python_text(column.to_pylist())
    if pa.types.is_floating(kind):
        return _float_text(column)
    if pa.types.is_duration(kind):
        return column.cast(pa.int64()).cast(pa.string())
    return column.cast(pa.string())


def flatten(table: pa.Table) -> pa.Table:
    """Nested records as one column per leaf: `address.city`."""
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


def table_text(table: pa.Table | pa.RecordBatch) -> pa.Table:
    """Every column of `table` (nested ones flattened) as text."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    table = flatten(table)
    return pa.table({name: column_text(table.column(name)) for name in table.column_names})


def frame_text(table: pa.Table | pa.RecordBatch, columns: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """`table` as the planner's text frame, with exactly `columns` (missing ones blank) when given."""
    text = table_text(table)
    if columns is not None:
        missing = [c for c in columns if c not in text.column_names]
        for name in missing:
            text = text.append_column(name, pa.nulls(text.num_rows, pa.string()))
        text = text.select(list(columns))
    if text.num_columns == 0:
        return empty_frame(list(columns or ())).reindex(range(text.num_rows)).fillna("")
    frame = as_text_frame(text)
    return frame.astype(TEXT) if len(frame) == 0 else frame


def python_value_text(value: object) -> str:
    """A Python value (a SQL driver's or openpyxl's) as the same text Arrow would give it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(pa.array([value]))[0].as_py() or ""
    if isinstance(value, Decimal):
        return format(value, "f")  # as written, never in exponent notation
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return column_text(pa.array([value]))[0].as_py()
    return str(value)


def values_text(values: Sequence[object]) -> pa.Array:
    """A column of Python values (from a driver, openpyxl or json) as text: in one Arrow conversion
    when the values share a type, else value by value."""
    try:
        array = pa.array(values)
        if pa.types.is_date(array.type) and any(isinstance(v, datetime.datetime) for v in values):
            raise TypeError("dates and datetimes mixed: Arrow would drop the times")
        if pa.types.is_decimal(array.type) and len({v.as_tuple().exponent for v in values if v is not None}) > 1:
            # Arrow gives a column one scale (1.5 next to 1.25 would read 1.50): each as written
            return pa.array([None if v is None else format(v, "f") for v in values], pa.string())
        return column_text(array)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([python_value_text(v) if v is not None else None for v in values], pa.string())


def columns_frame(columns: dict[str, Sequence[object]], names: Sequence[str], count: int) -> pd.DataFrame:
    """Python value columns (name -> values, `count` rows) as the planner's text frame with exactly
    `names` (a name without values is blank)."""
    arrays = {name: values_text(columns[name]) if name in columns else pa.nulls(count, pa.string())
              for name in names}
    if not arrays:
        return empty_frame([]).reindex(range(count))
    return as_text_frame(pa.table(arrays))
