"""How query values leave the store: CSV text for Bulk results, typed JSON values for REST records.

CSV: most formatting is done by SQLite in the SELECT itself (``ifnull(x, '')``, booleans via CASE,
integers via CAST) so a result row arrives as a ready tuple of ``str`` and streaming costs no Python
work per cell. Only double/currency/percent values are formatted in Python: they are printed as
the shortest decimal that round-trips, in plain positional notation with at least one fractional
digit (``1500000.0``, ``0.1``, ``12345678901234567890.0``; never ``1.5E7``), which is how Salesforce
prints most values and is stable.

JSON (REST): booleans are JSON booleans, int fields ints, double fields floats, datetimes in the REST
form ``2024-01-02T03:04:05.000+0000``, null is None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..orgschema import NUMBER_TYPES, FieldDef

Converter = Callable[[Any], Any]


def csv_sql(expr: str, fd: FieldDef) -> str:
    """SQL that yields the CSV text of `expr` ('' for null); doubles are left to `format_double`."""
    if fd.type == "boolean":
        return f"CASE {expr} WHEN 1 THEN 'true' WHEN 0 THEN 'false' ELSE '' END"
    if fd.type in ("int", "long"):
        return f"ifnull(CAST(CAST({expr} AS INTEGER) AS TEXT), '')"
    if fd.type in NUMBER_TYPES:
        return expr
    return f"ifnull({expr}, '')"


def csv_converter(fd: FieldDef) -> Converter | None:
    return format_double if fd.type in NUMBER_TYPES else None


def format_double(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # stored as text against the convention: pass through untouched
        return value
    number = float(value)
    text = repr(number)
    if "e" in text and number == number and abs(number) != float("inf"):
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def format_doubles(values: Sequence[Any]) -> pa.Array:
    """`format_double` over a whole column, as an Arrow string array: Arrow writes each double's
    shortest round-trip digits (what ``repr`` writes); integral values get their ``.0``, and the few
    values ``repr`` writes otherwise (exponents, inf, nan, a value stored as text) go through
    `format_double` one by one."""
    try:
        floats = pa.array(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a value stored as text against the convention
        return pa.array([format_double(v) for v in values], pa.string())
    text = pc.fill_null(pc.cast(floats, pa.string()), "")
    special = pc.or_(pc.match_substring(text, "e"), pc.match_substring(text, "n"))
    whole = pc.and_(pc.invert(pc.match_substring(text, ".")), pc.not_equal(text, ""))
    text = pc.if_else(pc.and_(whole, pc.invert(special)), pc.binary_join_element_wise(text, ".0", ""), text)
    odd = np.flatnonzero(special.to_numpy(zero_copy_only=False))
    if not odd.size:
        return text
    written = text.to_numpy(zero_copy_only=False).astype(object)
    written[odd] = [format_double(values[i]) for i in odd.tolist()]
    return pa.array(written, pa.string())


def json_converter(fd: FieldDef) -> Converter | None:
    if fd.type == "boolean":
        return _json_bool
    if fd.type in ("int", "long"):
        return _json_int
    if fd.type in NUMBER_TYPES:
        return _json_float
    if fd.type == "datetime":
        return _json_datetime
    return None


def _json_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _json_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _json_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _json_datetime(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return text[:-1] + "+0000" if text.endswith("Z") else text
