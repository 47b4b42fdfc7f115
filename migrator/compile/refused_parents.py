"""Parents that are in the source data but will not be sent: rejected rows and rows filtered out.

A child whose parent is missing is told which case it is: "parent Account A0199 was rejected
(data/accounts.csv line 201, Founded__c: not a date)", "parent Account A0199 was filtered out by
where", or, when the key is nowhere in the data, "not in the source data". Rejected parents whose
key no part carries are also handed to the run (`refused_parents.csv`): it skips the rows naming
them, with the parent's key, instead of sending them to fail on a parent that is never sent.

Only the field a step is keyed by is tracked, for the steps some lookup finds parents by that field
(as children almost always do). Memory: 8 bytes per filtered key, one small record per rejected row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from migrator.compile.csvio import write_table
from migrator.compile.keys import KeySet, key_hashes
from migrator.plan.fakespec import GENERATED_PREFIX

REFUSED_PARENTS_FILE = "refused_parents.csv"
REFUSED_PARENT_COLUMNS = ("object", "key_field", "key", "source_file", "source_row", "field", "reason")
NOT_IN_DATA = "not in the source data"
FILTERED_OUT = "filtered out by where"

Pair = tuple[str, str]  # (object, key field), lower case


def source_reference(files: pd.Series, lines: pd.Series) -> pd.Series:
    """`data/accounts.csv line 201`, or `generate:Account#17` for a generated row, vectorised."""
    files, lines = files.astype("str"), lines.astype("str")
    return (files + " line " + lines).where(~files.str.startswith(GENERATED_PREFIX), files + "#" + lines)


def rejected_text(files: pd.Series, lines: pd.Series, fields: pd.Series, reasons: pd.Series) -> pd.Series:
    """`rejected (data/accounts.csv line 201, Founded__c: not a date)`, vectorised."""
    where = source_reference(files, lines)
    named = fields.astype("str")
    where = where.where(named == "", where + ", " + named)
    return "rejected (" + where + ": " + reasons.astype("str") + ")"


class RefusedParents:
    """Keys of rows that were rejected or filtered out, per (object, key field) children look up."""

    def __init__(self, tracked: Iterable[Pair], keyed_by: Mapping[str, tuple[str, str | None]]):
        wanted = set(tracked)
        self._pairs: dict[str, Pair] = {}  # step name -> the pair its rows are parents by
        self._names: dict[Pair, tuple[str, str]] = {}  # pair -> (object, key field) as written
        for step, (object_name, header) in keyed_by.items():
            if not header:
                continue
            pair = (object_name.lower(), header.lower())
            self._names[pair] = (object_name, header)
            if pair in wanted:
                self._pairs[step] = pair
        self._rejected: dict[Pair, list[pd.DataFrame]] = {}
        self._tables: dict[Pair, pd.DataFrame] = {}
        self._filtered: dict[Pair, KeySet] = {}

    def rejected(self, step: str, keys: pd.Series, files: pd.Series, lines: pd.Series, fields: pd.Series,
                 reasons: pd.Series) -> None:
        """Rows of `step` refused before sending (aligned Series; blank keys name no parent)."""
        pair = self._pairs.get(step)
        if pair is None:
            return
        keys = keys.astype("str").reset_index(drop=True)
        present = (keys != "").to_numpy()
        if not present.any():
            return
        frame = pd.DataFrame({"key": keys, "source_file": files.astype("str").to_numpy(),
                              "source_row": lines.astype("str").to_numpy(), "field": fields.astype("str").to_numpy(),
                              "reason": reasons.astype("str").to_numpy()})[present]
        self._rejected.setdefault(pair, []).append(frame.assign(hash=key_hashes(frame["key"])))
        self._tables.pop(pair, None)

    def filtered(self, step: str, keys: pd.Series) -> None:
        """Keys of rows of `step` that its `where` filtered out."""
        pair = self._pairs.get(step)
        if pair is not None:
            keys = keys.astype("str")
            self._filtered.setdefault(pair, KeySet()).add(key_hashes(keys[(keys != "").to_numpy()]))

    def _table(self, pair: Pair) -> pd.DataFrame | None:
        """Rejected rows by key hash, the first rejected row of each key."""
        if pair not in self._rejected:
            return None
        if pair not in self._tables:
            frame = pd.concat(self._rejected[pair], ignore_index=True).drop_duplicates("hash")
            self._tables[pair] = frame.set_index("hash")
        return self._tables[pair]

    def why(self, target: str, key: str, values: pd.Series) -> pd.Series:
        """Why each parent key in `values` is missing: rejected (where and why), filtered out, or absent."""
        pair = (target.lower(), key.lower())
        hashes = key_hashes(values)
        why = pd.Series(NOT_IN_DATA, index=values.index, dtype="str")
        filtered = self._filtered.get(pair)
        if filtered is not None:
            why[filtered.contains(hashes)] = FILTERED_OUT
        table = self._table(pair)
        if table is not None:
            found = table.reindex(hashes)
            hit = found["key"].notna().to_numpy()
            if hit.any():
                rows = found[hit]
                why[hit] = rejected_text(rows["source_file"], rows["source_row"], rows["field"],
                                         rows["reason"]).to_numpy()
        return why

    def write_never_sent(self, directory: Path, sent: Mapping[Pair, KeySet]) -> int:
        """`refused_parents.csv`: rejected keys that no part carries (a rejected duplicate's key went
        out with its first row, so it is not refused). Returns the number of keys written."""
        frames = []
        for pair in sorted(self._rejected):
            table = self._table(pair)
            assert table is not None
            carried = sent[pair].contains(table.index.to_numpy(dtype=np.uint64)) if pair in sent else None
            refused = table if carried is None else table[~carried]
            object_name, key_field = self._names[pair]
            frames.append(refused.reset_index(drop=True).assign(object=object_name, key_field=key_field))
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REFUSED_PARENT_COLUMNS)
        write_table(directory / REFUSED_PARENTS_FILE, frame[list(REFUSED_PARENT_COLUMNS)].astype("str"))
        return len(frame)
