"""Vectorised text operations that give exactly what Python's (and Jinja's) string methods give.

pandas 3 stores text in Arrow when pyarrow is installed, and Arrow's case mapping is not Python's
for some characters (Arrow upper-cases "ß" to "ẞ" where Python gives "SS"; it lower-cases a
final "Σ" to "σ" where Python gives "ς"). Templates must render the same whether they take the
fast path or go through Jinja, so each operation here runs the fast Arrow kernel on ASCII rows
(where both agree) and Python's own function only on the rows with non-ASCII text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from jinja2 import filters as jinja_filters

try:  # pandas stores text in Arrow only when pyarrow is installed; without it Python does it all
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover - pyarrow is present wherever pandas uses Arrow strings
    pa = pc = None

# Jinja's title() starts a new word after any of these (its regex `[-\s({\[<]`), checked bytewise.
_TITLE_BREAK = np.zeros(256, dtype=bool)
for _code in range(128):
    if jinja_filters._word_beginning_split_re.match(chr(_code)):
        _TITLE_BREAK[_code] = True


def as_text(series: pd.Series) -> pd.Series:
    """The series as the `str` dtype with blanks for missing values."""
    if series.dtype != "str":
        series = series.astype("str")
    return series.fillna("")


def _arrow_backed(series: pd.Series) -> bool:
    return pa is not None and getattr(series.dtype, "storage", None) == "pyarrow"


def _ascii_title(series: pd.Series) -> pd.Series:
    """Jinja's title() on ASCII text, computed on the Arrow byte buffer with numpy."""
    array = pa.array(series.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    large = pa.types.is_large_string(array.type)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[array.offset: array.offset + len(array) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    data_buffer = array.buffers()[2]
    data = (np.frombuffer(data_buffer, dtype=np.uint8)[first:last] if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))
    begins = np.empty(len(data), dtype=bool)
    if len(data):
        begins[1:] = _TITLE_BREAK[data[:-1]]
        starts = offsets[:-1] - first
        begins[starts[starts < len(data)]] = True
    lowered = np.where((data >= 65) & (data <= 90), data + 32, data)
    titled = np.where(begins & (lowered >= 97) & (lowered <= 122), lowered - 32, lowered).astype(np.uint8)
    result = pa.Array.from_buffers(array.type, len(array),
                                   [None, pa.py_buffer((offsets - first).copy()), pa.py_buffer(titled)])
    return pd.Series(pd.array(result, dtype=series.dtype), index=series.index)


_FAST: dict[str, Callable[[pd.Series], pd.Series]] = {
    "upper": lambda s: s.str.upper(),
    "lower": lambda s: s.str.lower(),
    "trim": lambda s: s.str.strip(),
    "capitalize": lambda s: s.str.capitalize(),
    "title": _ascii_title,
}

# Jinja's own filters: the reference semantics.
PYTHON: dict[str, Callable[[str], str]] = {
    "upper": jinja_filters.do_upper,
    "lower": jinja_filters.do_lower,
    "trim": lambda s: jinja_filters.do_trim(s),
    "capitalize": jinja_filters.do_capitalize,
    "title": jinja_filters.do_title,
}

OPERATIONS = frozenset(PYTHON)


def _python_on_distinct(series: pd.Series, python: Callable[[str], str]) -> pa.Array:
    """Python's function once per distinct value, spread back with an Arrow take."""
    codes, uniques = pd.factorize(series)
    distinct = pa.array([python(value) for value in uniques], type=pa.large_string())
    return distinct.take(pa.array(codes))


def apply(series: pd.Series, operation: str) -> pd.Series:
    """Apply upper/lower/trim/capitalize/title to every value, exactly as Jinja's filter would."""
    series = as_text(series)
    python = PYTHON[operation]
    if not _arrow_backed(series):
        codes, uniques = pd.factorize(series)
        distinct = np.array([python(value) for value in uniques], dtype=object)
        return pd.Series(distinct[codes] if len(series) else [], index=series.index, dtype="str")
    result = _FAST[operation](series)
    unusual = (~series.str.isascii()).to_numpy(dtype=bool)
    if not unusual.any():
        return result
    fixed = _python_on_distinct(series[unusual], python)
    merged = pc.replace_with_mask(pa.array(result.array).cast(pa.large_string()), pa.array(unusual), fixed)
    return pd.Series(pd.array(merged, dtype=series.dtype), index=series.index)
