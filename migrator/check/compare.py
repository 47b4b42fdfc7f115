"""A row about to be sent against the target's current record: would it create, update, or change nothing?

Values are compared as the org understands them, not as text: numbers by value (``1200000.00`` is
``1.2E6``), datetimes as instants, dates by day, checkboxes as true/false (a blank checkbox is
false), picklists ignoring case, multi-select picklists as sets, relationship keys ignoring case
(external ids match that way), Ids in their 18-character form. A blank cell leaves a field as it is,
so it never counts as a change; ``#N/A`` clears it, which changes a field that has a value.

Vectorised with pyarrow compute: rows are matched to records by their folded key (`index_in`), and
each column is normalised and compared once on both sides, with no Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.check.current import TEXT, fold, id18, text
from migrator.check.schema import INTEGER_TYPES, NUMBER_TYPES, FieldInfo

CLEAR = "#N/A"
CREATE, UPDATE, UNCHANGED, DELETE, NOT_FOUND = "create", "update", "unchanged", "delete", "not_found"
PARENT_MISSING = "parent_missing"  # a row naming a parent neither the org nor the load has: it would not load
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_EXACT_DIGITS = 15  # a double tells decimals apart up to 15 significant digits; longer ones compare as text


@dataclass(frozen=True)
class Column:
    """How one sent column is compared: `target` is the column of the current records holding the
    value (a field, a `Rel.Key` traversal, or a polymorphic lookup's Id), `kind` its normaliser;
    `parent_ids` holds, for a relationship column, the parents' folded keys and their Ids."""

    sent: str
    target: str | None  # None: the org's value cannot be read (a binary field), so a value is a change
    kind: str
    parent_ids: tuple[pa.Array, pa.Array] | None = None


def kind_of(info: FieldInfo) -> str:
    if info.type in NUMBER_TYPES | INTEGER_TYPES:
        return "number"
    if info.type in ("boolean", "date", "datetime", "multipicklist"):
        return info.type
    if info.type == "picklist":
        return "folded"
    if info.type in ("id", "reference"):
        return "id"
    if info.type == "textarea":
        return "textarea"
    return "text"


def _canonical_decimal(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    return format(number.normalize(), "f") if number else "0"


def _numbers_equal(sent: pa.Array, now: pa.Array) -> np.ndarray:
    """Equal as numbers: doubles for the usual values, exact decimals for long ones, text otherwise."""
    plain = [pc.match_substring_regex(a, _PLAIN_NUMBER) for a in (sent, now)]
    floats = [pc.cast(pc.if_else(p, a, pa.scalar("nan", TEXT)), pa.float64()) for a, p in zip((sent, now), plain,
                                                                                               strict=True)]
    equal = pc.fill_null(pc.equal(*floats), False).to_numpy(zero_copy_only=False)
    both = pc.and_(*plain).to_numpy(zero_copy_only=False)
    long_ = (pc.greater(pc.utf8_length(sent), _EXACT_DIGITS + 2).to_numpy(zero_copy_only=False)
             | pc.greater(pc.utf8_length(now), _EXACT_DIGITS + 2).to_numpy(zero_copy_only=False))
    exact = np.flatnonzero(both & long_)
    if exact.size:
        left, right = sent.take(pa.array(exact)).to_pylist(), now.take(pa.array(exact)).to_pylist()
        equal[exact] = [_canonical_decimal(a) == _canonical_decimal(b) for a, b in zip(left, right, strict=True)]
    not_numbers = ~both
    if not_numbers.any():
        equal[not_numbers] = pc.equal(sent, now).to_numpy(zero_copy_only=False)[not_numbers]
    return equal


def _datetimes(values: pa.Array) -> pa.Array:
    """Instants as milliseconds since the epoch, as text (what is no datetime stays as it is)."""
    series = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(series.mask(series == "", None), utc=True, format="ISO8601", errors="coerce")
    millis = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ms]").astype("int64").astype(str)
    return pa.array(np.where(parsed.isna().to_numpy(), series.to_numpy(), millis), TEXT)


def _multi(values: pa.Array) -> pa.Array:
    series = pd.Series(values.to_numpy(zero_copy_only=False), dtype="str")
    items = series.str.lower().str.split(";").explode().str.strip()
    items = items[items != ""]
    joined = items.groupby(level=0).agg(lambda parts: ";".join(sorted(set(parts))))
    return text(joined.reindex(series.index).fillna("").astype("str"))


def normalise(values: pa.Array | pd.Series, kind: str) -> pa.Array:
    """Text values of one kind in a form where equal means equal to the org (numbers excepted:
    they are compared by `_numbers_equal`)."""
    values = text(values)
    if kind == "boolean":
        return text(pc.if_else(pc.is_in(pc.utf8_lower(values), value_set=pa.array(["true", "1"], TEXT)), "true",
                               "false"))
    if kind == "date":
        return pc.utf8_slice_codeunits(values, 0, 10)
    if kind == "datetime":
        return _datetimes(values)
    if kind == "multipicklist":
        return _multi(values)
    if kind in ("folded", "key"):
        return pc.utf8_lower(values)
    if kind == "id":
        return text(id18(pd.Series(values.to_numpy(zero_copy_only=False), dtype="str")))
    if kind == "textarea":
        return pc.replace_substring(values, "\r\n", "\n")
    return values


def _differs(sent: pa.Array, now: pa.Array, column: Column) -> np.ndarray:
    """Per matched row: does sending `sent` change the org's `now`?"""
    blank = pc.equal(sent, "").to_numpy(zero_copy_only=False)
    clear = pc.equal(sent, CLEAR).to_numpy(zero_copy_only=False)
    if column.parent_ids is not None:  # a relationship column: the parent's key, as the parent's Id
        keys, parent_ids = column.parent_ids
        ids = parent_ids.take(pc.index_in(pc.utf8_lower(sent), value_set=keys))
        # a parent the org does not have yet (this load creates it) is a change for sure
        sent, column = pc.fill_null(ids, "\x00new parent"), Column(column.sent, column.target, "id")
    now_norm = normalise(now, column.kind)
    if column.kind == "number":
        same = _numbers_equal(sent, now)
    else:
        same = pc.equal(normalise(sent, column.kind), now_norm).to_numpy(zero_copy_only=False)
    cleared = pc.equal(now_norm, normalise(pa.array([""], TEXT), column.kind)[0]).to_numpy(zero_copy_only=False)
    return ~blank & np.where(clear, ~cleared, ~same)


def classify(rows: pd.DataFrame, key: str, current: pd.DataFrame, columns: list[Column], *, operation: str,
             case_sensitive: bool = False) -> pd.Series:
    """Per row of `rows` (the CSV about to be sent): create, update, unchanged, delete or not_found.

    `current` holds the target's records with `__match` (the folded key) and the `target` columns.
    Rows whose key the org does not have are created (insert, upsert) or not found (update,
    delete); the others are unchanged when no compared column differs.
    """
    keys = rows[key].astype("str").fillna("") if key in rows else pd.Series("", index=rows.index, dtype="str")
    folded = text(fold(keys, key, case_sensitive))
    matches = text(current["__match"]) if "__match" in current else pa.array([], TEXT)
    at = pc.index_in(folded, value_set=matches)
    found = (at.is_valid().to_numpy(zero_copy_only=False) & pc.not_equal(folded, "").to_numpy(zero_copy_only=False))
    outcome = np.full(len(rows), CREATE if operation in ("insert", "upsert") else NOT_FOUND, dtype=object)
    if operation in ("delete", "hardDelete"):
        outcome[found] = DELETE
        return pd.Series(outcome, index=rows.index, dtype="str")
    if operation == "insert" or not found.any():
        return pd.Series(outcome, index=rows.index, dtype="str")
    chosen = np.flatnonzero(found)
    positions = pa.array(at.to_numpy(zero_copy_only=False)[chosen].astype(np.int64))
    changed = np.zeros(chosen.size, dtype=bool)
    for column in columns:
        if column.sent not in rows:
            continue
        sent = text(rows[column.sent]).take(pa.array(chosen))
        if column.target is None or column.target not in current:
            changed |= pc.not_equal(sent, "").to_numpy(zero_copy_only=False)
            continue
        now = text(current[column.target]).take(positions)
        changed |= _differs(sent, now, column)
    outcome[chosen] = np.where(changed, UPDATE, UNCHANGED)
    return pd.Series(outcome, index=rows.index, dtype="str")
