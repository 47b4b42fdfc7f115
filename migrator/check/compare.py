"""A row about to be sent against the target's current record: would it create, update, or change nothing?

Values are compared as the org understands them, not as text: numbers by value (``1200000.00`` is
``1.2E6``), datetimes as instants, dates by day, checkboxes as true/false (a blank checkbox is
false), picklists ignoring case, multi-select picklists as sets, relationship keys ignoring case
(external ids match that way), Ids in their 18-character form. A blank cell leaves a field as it is,
so it never counts as a change; ``#N/A`` clears it, which changes a field that has a value.
Vectorised: each column is normalised once on both sides, then compared in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from migrator.check.current import id18
from migrator.check.schema import INTEGER_TYPES, NUMBER_TYPES, FieldInfo

CLEAR = "#N/A"
CREATE, UPDATE, UNCHANGED, DELETE, NOT_FOUND = "create", "update", "unchanged", "delete", "not_found"


@dataclass(frozen=True)
class Column:
    """How one sent column is compared: `target` is the column of the current records holding the
    value (a field, a `Rel.Key` traversal, or a polymorphic lookup's Id), `kind` its normaliser;
    `parent_ids` maps a polymorphic column's parent keys (folded) to Ids."""

    sent: str
    target: str | None  # None: the org's value cannot be read (a binary field), so a value is a change
    kind: str
    parent_ids: Mapping[str, str] | None = None


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


def _numbers(values: pd.Series) -> pd.Series:
    """Canonical decimal text: no sign on zero, no leading zeros, no trailing fractional zeros."""
    text = values.str.strip()
    exponent = text.str.contains("[eE]", regex=True)
    if exponent.any():
        from decimal import Decimal, InvalidOperation

        def plain(value: str) -> str:
            try:
                return format(Decimal(value), "f")
            except InvalidOperation:
                return value

        text = text.mask(exponent, text[exponent].map(plain))
    negative = text.str.startswith("-")
    body = text.str.lstrip("+-")
    whole = body.str.extract(r"^([0-9]*)", expand=False).fillna("").str.lstrip("0")
    fraction = body.str.extract(r"\.([0-9]*)$", expand=False).fillna("").str.rstrip("0")
    valid = body.str.fullmatch(r"[0-9]*(?:\.[0-9]*)?") & (body != "")
    canonical = whole.mask(whole == "", "0") + ("." + fraction).where(fraction != "", "")
    zero = canonical == "0"
    canonical = ("-" + canonical).where(negative & ~zero, canonical)
    return canonical.where(valid, text)


def _datetimes(values: pd.Series) -> pd.Series:
    """Instants as milliseconds since the epoch (text that is no datetime stays as it is)."""
    parsed = pd.to_datetime(values.mask(values == "", None), utc=True, format="ISO8601", errors="coerce")
    millis = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ms]").astype("int64").astype(str)
    return pd.Series(np.where(parsed.isna().to_numpy(), values.to_numpy(), millis), index=values.index, dtype="str")


def _multi(values: pd.Series) -> pd.Series:
    items = values.str.lower().str.split(";").explode().str.strip()
    items = items[items != ""]
    joined = items.groupby(level=0).agg(lambda parts: ";".join(sorted(set(parts))))
    return joined.reindex(values.index).fillna("").astype("str")


def normalise(values: pd.Series, kind: str) -> pd.Series:
    """Text values of one kind in a form where equal means equal to the org."""
    values = values.astype("str").fillna("")
    if kind == "number":
        return _numbers(values)
    if kind == "boolean":
        lowered = values.str.lower()
        return pd.Series(np.where(lowered.isin(["true", "1"]), "true", "false"), index=values.index, dtype="str")
    if kind == "date":
        return values.str.slice(0, 10)
    if kind == "datetime":
        return _datetimes(values)
    if kind == "multipicklist":
        return _multi(values)
    if kind in ("folded", "key"):
        return values.str.lower()
    if kind == "id":
        return id18(values)
    if kind == "textarea":
        return values.str.replace("\r\n", "\n", regex=False)
    return values


def _sent_value(rows: pd.DataFrame, column: Column) -> pd.Series:
    """The sent column, normalised, with polymorphic parent keys turned into the parents' Ids."""
    sent = rows[column.sent].astype("str").fillna("")
    if column.parent_ids is None:
        return sent.where(sent.isin(["", CLEAR]), normalise(sent, column.kind))
    ids = sent.str.lower().map(column.parent_ids)
    # a parent the org does not have yet (created by this load) is a change for sure
    return sent.where(sent.isin(["", CLEAR]), ids.fillna("\x00new parent"))


def classify(rows: pd.DataFrame, key: str, current: pd.DataFrame, columns: list[Column], *, operation: str,
             case_sensitive: bool = False) -> pd.Series:
    """Per row of `rows` (the CSV about to be sent): create, update, unchanged or not_found.

    `current` holds the target's records with `__match` (the folded key, one record per key) and
    the `target` columns. Rows whose key the org does not have are created (insert, upsert) or not
    found (update); the rest are unchanged when no compared column differs.
    """
    keys = rows[key].astype("str").fillna("") if key in rows else pd.Series("", index=rows.index, dtype="str")
    folded = id18(keys) if key.lower() == "id" else (keys if case_sensitive else keys.str.lower())
    current = current.drop_duplicates("__match").set_index("__match")
    found = folded.isin(current.index) & (keys != "")
    outcome = pd.Series(CREATE if operation in ("insert", "upsert") else NOT_FOUND, index=rows.index, dtype="str")
    if operation in ("delete", "hardDelete"):
        return outcome.mask(found, DELETE)
    if operation == "insert" or not found.any():
        return outcome
    changed = np.zeros(int(found.sum()), dtype=bool)
    matched = rows[found.to_numpy()]
    at = folded[found.to_numpy()]
    for column in columns:
        if column.sent not in matched:
            continue
        if column.target is None or column.target not in current:
            changed |= (matched[column.sent].astype("str").fillna("") != "").to_numpy()
            continue
        sent = _sent_value(matched, column)
        now = normalise(current[column.target].reindex(at.to_numpy()).fillna("").astype("str"), column.kind)
        now = pd.Series(now.to_numpy(), index=matched.index, dtype="str")
        differs = (sent != "") & np.where(sent == CLEAR, now != normalise(pd.Series([""]), column.kind)[0],
                                          sent != now)
        changed |= np.asarray(differs, dtype=bool)
    outcome[found.to_numpy()] = np.where(changed, UPDATE, UNCHANGED)
    return outcome
