"""Records that will never load in this run, and the rows that depend on them.

When a parent did not load, sending its children only produces more failures ("Foreign key
external ID not found") that hide the real cause. So the keys of rows that failed for good, that
were skipped, or that the plan refused before sending (`refused_parents.csv`) are remembered, for
every key field some child finds its parent by, and a child row whose parent is among them is
skipped with that parent's key and the reason instead of sent. Skipped rows are remembered in
turn, so a whole subtree is skipped, down a hierarchy and across objects. In pass 2, a row whose
own record failed in pass 1 is skipped too: an upsert would otherwise create a half-empty record.
Keys are kept as 64-bit hashes (see `keys`), thread-safe.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from migrator.compile.keys import KeySet, key_hashes
from migrator.compile.manifest import Manifest, StepEntry
from migrator.compile.refused_parents import source_reference

Pair = tuple[str, str]  # (object, key field), lower case
ORPHAN_COLUMNS = ["reason", "parent_object", "parent_key"]


def lookup_targets(manifest: Manifest, step: StepEntry) -> list[tuple[str, str, str]]:
    """(header, parent object, parent key field) of each lookup column this step sends."""
    summary = manifest.summary(step.step)
    wanted = {"pass2"} if step.pass_no == 2 else {"pass1", "levels"}
    return [(header, target, lookup.key) for lookup in summary.lookups if lookup.mode in wanted
            for header, target in zip(lookup.headers, lookup.targets, strict=False) if header in step.columns]


class FailedKeys:
    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        self._lock = threading.Lock()
        self._failed: dict[Pair, KeySet] = {}
        self._skipped: dict[Pair, KeySet] = {}
        self._refused: dict[Pair, pd.Series] = {}  # key hash -> why the plan refused that parent
        self._wanted = {(t.lower(), k.lower()) for s in manifest.steps for _, t, k in lookup_targets(manifest, s)}
        self._wanted |= {(s.object.lower(), s.key_column.lower()) for s in manifest.steps if s.key_column}

    def refuse(self, refused: pd.DataFrame) -> None:
        """Parents the plan refused before sending (`refused_parents.csv`): rows naming them are skipped."""
        if refused.empty:
            return
        pairs = refused["object"].str.lower() + "\x1f" + refused["key_field"].str.lower()
        where = source_reference(refused["source_file"], refused["source_row"])
        where = where.where(refused["field"] == "", where + ", " + refused["field"])
        why = "was rejected (" + where + ": " + refused["reason"] + ")"
        with self._lock:
            for pair_text, rows in refused.groupby(pairs, sort=False):
                obj, key = str(pair_text).split("\x1f")
                if (obj, key) in self._wanted:
                    reasons = pd.Series(why.loc[rows.index].to_numpy(), index=key_hashes(rows["key"]))
                    known = self._refused.get((obj, key))
                    merged = reasons if known is None else pd.concat([known, reasons])
                    self._refused[(obj, key)] = merged[~merged.index.duplicated()]

    def remember(self, step: StepEntry, failed: pd.DataFrame, skipped: pd.DataFrame) -> None:
        """Rows of a pass-1 step that failed for good, and that were skipped: their keys, per key field
        children use. Both frames carry `key` and, when written by the executor, the row as sent."""
        if step.pass_no != 1:
            return
        for rows, found in ((failed, self._failed), (skipped, self._skipped)):
            if not rows.empty:
                self._add(step, rows, found)

    def _add(self, step: StepEntry, rows: pd.DataFrame, found: dict[Pair, KeySet]) -> None:
        with self._lock:
            for obj, key in self._wanted:
                if obj != step.object.lower():
                    continue
                column = next((c for c in rows.columns if c.lower() == key), None)
                if column is None and key == (step.key_column or "").lower() and "key" in rows:
                    column = "key"
                if column is not None:
                    values = rows[column].fillna("").astype("str")
                    found.setdefault((obj, key), KeySet()).add(key_hashes(values[(values != "").to_numpy()]))

    def could_orphan(self, step: StepEntry) -> bool:
        """Whether any row of `step` could be an orphan now: some parent it looks up (or, in pass 2, its
        own record) is known not to have loaded. When not, its rows need not even be read."""
        pairs = {(target.lower(), key.lower()) for _, target, key in lookup_targets(self.manifest, step)}
        if step.pass_no == 2 and step.key_column:
            pairs.add((step.object.lower(), step.key_column.lower()))
        with self._lock:
            return any(pair in known for pair in pairs for known in (self._failed, self._skipped, self._refused))

    def orphans(self, step: StepEntry, rows: pd.DataFrame) -> pd.DataFrame:
        """Rows whose parent (or, in pass 2, whose own record) did not load: index -> reason, parent object
        and key. A parent refused by the plan says why; one that failed or was skipped says so."""
        found = []
        checks = lookup_targets(self.manifest, step)
        if step.pass_no == 2 and step.key_column:
            checks.insert(0, (step.key_column, step.object, step.key_column))
        for header, target, key in checks:
            if header not in rows:
                continue
            values = rows[header].fillna("").astype("str")
            present = (values != "").to_numpy()
            if not present.any():
                continue
            own = step.pass_no == 2 and header == step.key_column
            reasons = self._reasons(target, key, values, own)
            hit = present & reasons.notna().to_numpy()
            if hit.any():
                found.append(pd.DataFrame({"index": rows.index[hit], "reason": reasons[hit].to_numpy(),
                                           "parent_object": target, "parent_key": values[hit].to_numpy()}))
        if not found:
            return pd.DataFrame(columns=ORPHAN_COLUMNS)
        return pd.concat(found).drop_duplicates("index").set_index("index")

    def _reasons(self, target: str, key: str, values: pd.Series, own: bool) -> pd.Series:
        """Per value: why that record did not load, or NaN when nothing says it did not."""
        pair = (target.lower(), key.lower())
        hashes = key_hashes(values)
        with self._lock:
            failed, skipped, refused = self._failed.get(pair), self._skipped.get(pair), self._refused.get(pair)
        reasons = np.full(len(values), None, dtype=object)
        if own:  # pass 2 of a record that pass 1 did not load
            for keys, why in ((skipped, "the record itself was skipped in pass 1"),
                              (failed, "the record itself failed to load")):
                if keys is not None:
                    reasons[keys.contains(hashes)] = why
            return pd.Series(reasons, index=values.index)
        named = f"parent {target} " + values
        if skipped is not None:
            hit = skipped.contains(hashes)
            reasons[hit] = (named[hit] + " was skipped: its own parent did not load").to_numpy()
        if failed is not None:
            hit = failed.contains(hashes)
            reasons[hit] = (named[hit] + " failed to load").to_numpy()
        if refused is not None:
            why = refused.reindex(hashes).to_numpy()
            hit = pd.notna(why)
            reasons[hit] = (named[hit] + " " + pd.Series(why[hit], index=values.index[hit], dtype="str")).to_numpy()
        return pd.Series(reasons, index=values.index)
