"""Values of the self-contained column kinds for given row indexes, as Arrow text arrays.

Each function is vectorised over the rows: draws come from the column's `Stream`, pools and
choices are taken by index, numbers and row numbers are formatted by Arrow's compute kernels.
Kinds that read other columns (template, parent, ref) are evaluated by `generate`, which knows
the other columns and steps.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from migrator.fake.draws import Stream
from migrator.plan.fakespec import ChoiceColumn, NumberColumn, SeqColumn

_PAD = re.compile(r"^(0?)(\d*)d?$")  # the int specs formatted without Python: "", "d", "6d", "06d"


def text_array(values: np.ndarray) -> pa.Array:
    """Integers as decimal text."""
    return pa.array(values, type=pa.int64()).cast(pa.string())


def _join(pieces: list[pa.Array | str], rows: int) -> pa.Array:
    if not pieces:
        return pa.array([""] * rows, type=pa.string())
    if len(pieces) == 1:
        piece = pieces[0]
        return piece if isinstance(piece, pa.Array) else pa.array([piece] * rows, type=pa.string())
    if all(isinstance(p, str) for p in pieces):
        return pa.array(["".join(pieces)] * rows, type=pa.string())  # type: ignore[arg-type]
    return pc.binary_join_element_wise(*pieces, "")


def seq_values(column: SeqColumn, rows: np.ndarray, seed: int) -> pa.Array:
    """The row numbers (`start` for the first row) and the seed, formatted by the column's format."""
    numbers = rows.astype(np.int64) + column.start
    pieces: list[pa.Array | str] = []
    for literal, name, spec, _ in string.Formatter().parse(column.format):
        if literal:
            pieces.append(literal)
        if name is None:
            continue
        if name == "seed":
            pieces.append(format(seed, spec or ""))
            continue
        pad = _PAD.match(spec or "")
        if pad is None or (pad.group(1) and len(numbers) and int(numbers.min()) < 0):
            pieces.append(pa.array([format(int(n), spec or "") for n in numbers], type=pa.string()))
            continue
        text = text_array(numbers)
        width = int(pad.group(2) or 0)
        pieces.append(pc.utf8_lpad(text, width=width, padding="0" if pad.group(1) else " ") if width else text)
    return _join(pieces, len(rows))


def choice_values(column: ChoiceColumn, stream: Stream, rows: np.ndarray) -> pa.Array:
    picked = stream.weighted(rows, column.weights)
    return pa.array(column.values, type=pa.string()).take(pa.array(picked))


def format_units(units: np.ndarray, decimals: int) -> pa.Array:
    """Integers counted in 10**-decimals as decimal text: 12345 with 2 decimals is "123.45"."""
    if decimals == 0:
        return text_array(units)
    scale = 10 ** decimals
    negative = units < 0
    whole, fraction = np.divmod(np.abs(units), scale)
    text = pc.binary_join_element_wise(text_array(whole), ".",
                                       pc.utf8_lpad(text_array(fraction), width=decimals, padding="0"), "")
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return text


def number_values(column: NumberColumn, stream: Stream, rows: np.ndarray) -> pa.Array:
    units = column.low + stream.below(rows, column.high - column.low + 1)
    return format_units(units, column.decimals)


def pool_values(pool: pa.Array, stream: Stream, rows: np.ndarray) -> pa.Array:
    return pool.take(pa.array(stream.below(rows, len(pool))))


def blank_out(values: pa.Array, blank: np.ndarray) -> pa.Array:
    """`values` with the rows where `blank` is true emptied."""
    if not blank.any():
        return values
    return pc.if_else(pa.array(blank), pa.scalar("", type=pa.string()), values)
