"""Result pages -> source columns, vectorised: what `readback.py` planned, done to a page at a time.

Values are the org's text, with three changes so a reload gives the same records and a dataset in
git changes only where the data did: numbers lose the org's trailing zeros (``1250000000.0`` ->
``1250000000``; exponents written out), a one-to-one `map` is applied backwards, and polymorphic
parent Ids become their step's keys (`IdKeys`). What cannot come back as it was is counted per
column (`ShapeStats`): values a map cannot restore, blanks that reload as a default, links to objects
the plan does not load.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.extract.readback import (
    BlankColumn,
    FieldColumn,
    IdColumn,
    LookupColumn,
    PolymorphicColumn,
    StepReadBack,
    TypeColumn,
    ValueMap,
)

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
ID_COLUMN = "__id"
EXAMPLES = 3


class IdKeys:
    """Record Id -> key, per (object, key field), from the steps extracted so far and from the org."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], list[tuple[pa.Array, pa.Array]]] = {}
        self._index: dict[tuple[str, str], tuple[pd.Index, np.ndarray]] = {}

    @staticmethod
    def _name(object_name: str, key: str) -> tuple[str, str]:
        return object_name.lower(), key.lower()

    def add(self, object_name: str, key: str, ids: Iterable[str] | pa.Array, keys: Iterable[str] | pa.Array) -> None:
        name = self._name(object_name, key)
        self._parts.setdefault(name, []).append((pa.array(ids, pa.string()), pa.array(keys, pa.string())))
        self._index.pop(name, None)

    def _lookup_table(self, name: tuple[str, str]) -> tuple[pd.Index, np.ndarray] | None:
        if name not in self._parts:
            return None
        if name not in self._index:
            ids = pa.concat_arrays([p[0] for p in self._parts[name]]).to_numpy(zero_copy_only=False)
            keys = pa.concat_arrays([p[1] for p in self._parts[name]]).to_numpy(zero_copy_only=False)
            index = pd.Index(ids)
            if not index.is_unique:
                keep = ~index.duplicated()
                index, keys = index[keep], keys[keep]
            self._index[name] = (index, keys)
        return self._index[name]

    def lookup(self, object_name: str, key: str, ids: pd.Series) -> pd.Series:
        """The keys of `ids` (NaN where this object's records were not seen)."""
        table = self._lookup_table(self._name(object_name, key))
        if table is None:
            return pd.Series(np.nan, index=ids.index, dtype=object)
        index, keys = table
        position = index.get_indexer(ids.to_numpy(dtype=object))
        found = np.where(position >= 0, keys[np.maximum(position, 0)], None)
        return pd.Series(found, index=ids.index, dtype=object).where(position >= 0)


@dataclass
class ColumnStats:
    """What a column cannot bring back exactly, with a few examples."""

    unrestorable: int = 0  # values the plan's map would not load back as they are
    as_default: int = 0  # blanks that load back as the field's default
    outside_plan: int = 0  # links to objects the plan does not load (written blank)
    unresolved: int = 0  # links to records whose key could not be found
    examples: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {k: v for k, v in (("unrestorable", self.unrestorable),
                                                     ("as_default", self.as_default),
                                                     ("outside_plan", self.outside_plan),
                                                     ("unresolved", self.unresolved)) if v}
        if self.examples:
            data["examples"] = [value for value, _ in self.examples.most_common(EXAMPLES)]
        return data


@dataclass
class ShapeStats:
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    without_key: int = 0  # rows whose key column is blank (a reload cannot upsert them)

    def column(self, name: str) -> ColumnStats:
        return self.columns.setdefault(name, ColumnStats())

    def to_json(self) -> dict[str, object]:
        return {name: stats.to_json() for name, stats in sorted(self.columns.items()) if stats.to_json()}


def _text(table: pa.Table, path: str) -> pd.Series:
    name = path.lower()
    if name not in table.column_names:
        return pd.Series("", index=pd.RangeIndex(table.num_rows), dtype=TEXT)
    return table.column(name).to_pandas(types_mapper={pa.string(): TEXT}.get).fillna("")


_PLAIN_ZEROS = r"^(-?[0-9]+)\.0*$"
_TRAILING_ZEROS = r"^(-?[0-9]*\.[0-9]*?[1-9])0+$"


def plain_numbers(values: pd.Series) -> pd.Series:
    """Numbers as plain decimal text without trailing zeros: the same number gives the same text."""
    if values.empty:
        return values
    array = pa.array(values.to_numpy(dtype=object), pa.string())
    array = pc.replace_substring_regex(array, _PLAIN_ZEROS, r"\1")
    array = pc.replace_substring_regex(array, _TRAILING_ZEROS, r"\1")
    out = pd.Series(array.to_numpy(zero_copy_only=False), index=values.index, dtype=TEXT)
    odd = out.str.contains(r"[eE]", regex=True)
    if odd.any():
        out[odd] = [_decimal_text(v) for v in out[odd]]
    return out.mask(out == "-0", "0")


def _decimal_text(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    text = format(number.normalize(), "f")
    return text


def _invert(values: pd.Series, mapping: ValueMap, stats: ColumnStats) -> pd.Series:
    """Target values back to source values; values the map cannot restore are kept and counted."""
    back = values.map(dict(mapping.inverse))
    unlisted = back.isna() & (values != "")
    if unlisted.any():
        plain = values[unlisted]
        folded = plain.str.lower() if mapping.ignore_case else plain
        lost = folded.isin(list(mapping.keys))
        if mapping.default is not None:
            lost |= plain != mapping.default
        if lost.any():
            stats.unrestorable += int(lost.sum())
            stats.examples.update(plain[lost].head(20).tolist())
    return back.fillna(values).astype(TEXT)


def _field(table: pa.Table, column: FieldColumn, stats: ShapeStats) -> pd.Series:
    values = _text(table, column.path)
    if column.fallback_id:
        values = values.mask(values == "", _text(table, "Id"))
    if column.number:
        values = plain_numbers(values)
        if column.decimal == ",":
            values = values.str.replace(".", ",", regex=False)
    column_stats = stats.column(column.column)
    if column.values is not None:
        values = _invert(values, column.values, column_stats)
    if column.default is not None:
        column_stats.as_default += int(((values == "") & (column.default != "")).sum())
    return values


def _lookup(table: pa.Table, column: LookupColumn) -> pd.Series:
    values = _text(table, column.path) if column.path else pd.Series("", index=pd.RangeIndex(table.num_rows),
                                                                      dtype=TEXT)
    if column.fallback_id:
        values = values.mask(values == "", _text(table, column.field))
    return values


def _types(table: pa.Table, type_path: str, keys: dict[str, str]) -> pd.Series:
    """Each row's parent type in the plan's spelling of the object name ('' when not a plan target)."""
    names = {target.lower(): target for target in keys}
    return _text(table, type_path).str.lower().map(names).fillna("").astype(TEXT)


def _polymorphic(table: pa.Table, column: PolymorphicColumn, id_keys: IdKeys, stats: ShapeStats) -> pd.Series:
    ids = _text(table, column.field)
    types = _types(table, column.type_path, dict(column.keys))
    out = pd.Series("", index=ids.index, dtype=TEXT)
    column_stats = stats.column(column.column)
    linked = ids != ""
    column_stats.outside_plan += int((linked & (types == "")).sum())
    for target, key in column.keys.items():
        mask = linked & (types == target)
        if not mask.any():
            continue
        found = id_keys.lookup(target, key, ids[mask])
        if column.fallback_id.get(target):
            found = found.mask(found.isna() | (found == ""), ids[mask])
        column_stats.unresolved += int(found.isna().sum())
        out[mask] = found.fillna("").astype(str)
    return out


def unresolved_links(table: pa.Table, column: PolymorphicColumn, id_keys: IdKeys) -> dict[str, set[str]]:
    """Per target object, the parent Ids of `table` that `id_keys` does not know: to ask the org for."""
    ids = _text(table, column.field)
    types = _types(table, column.type_path, dict(column.keys))
    wanted: dict[str, set[str]] = {}
    for target, key in column.keys.items():
        mask = (ids != "") & (types == target)
        if mask.any():
            found = id_keys.lookup(target, key, ids[mask])
            missing = ids[mask][found.isna()]
            if not missing.empty:
                wanted.setdefault(target, set()).update(missing.tolist())
    return wanted


def shape(table: pa.Table, readback: StepReadBack, id_keys: IdKeys, stats: ShapeStats) -> pd.DataFrame:
    """One page as the step's source columns (in order), plus the record Id in `ID_COLUMN`."""
    out: dict[str, pd.Series] = {}
    for column in readback.columns:
        if isinstance(column, FieldColumn):
            out[column.column] = _field(table, column, stats)
        elif isinstance(column, LookupColumn):
            out[column.column] = _lookup(table, column)
        elif isinstance(column, PolymorphicColumn):
            out[column.column] = _polymorphic(table, column, id_keys, stats)
        elif isinstance(column, IdColumn):
            out[column.column] = _text(table, "Id")
        elif isinstance(column, BlankColumn):
            out[column.column] = pd.Series("", index=pd.RangeIndex(table.num_rows), dtype=TEXT)
    for column in readback.columns:
        if isinstance(column, TypeColumn):
            linked = out[column.field] != ""
            types = _types(table, column.type_path, dict(column.aliases)).map(dict(column.aliases)).fillna("")
            out[column.column] = types.where(linked, "").astype(TEXT)
    out[ID_COLUMN] = _text(table, "Id")
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))
