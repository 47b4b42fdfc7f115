"""Records that will never load in this run, and the rows that depend on them.

When a parent fails for good, sending its children only produces more failures ("Foreign key
external ID not found") that hide the real cause. So the keys of permanently failed (and skipped)
rows are remembered, for every key field some child finds its parent by, and a child row whose
parent is among them is skipped with that reason instead of sent. In pass 2, a row whose own
record failed in pass 1 is skipped too: an upsert would otherwise create a half-empty record.
Keys are kept as 64-bit hashes (see `keys`), thread-safe.
"""

from __future__ import annotations

import threading

import pandas as pd

from migrator.compile.keys import KeySet, key_hashes
from migrator.compile.manifest import Manifest, StepEntry


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
        self._failed: dict[tuple[str, str], KeySet] = {}
        self._wanted = {(t.lower(), k.lower()) for s in manifest.steps for _, t, k in lookup_targets(manifest, s)}
        self._wanted |= {(s.object.lower(), s.key_column.lower()) for s in manifest.steps if s.key_column}

    def remember(self, step: StepEntry, rows: pd.DataFrame) -> None:
        """Rows of a pass-1 step that failed or were skipped: their keys, per key field children use."""
        if step.pass_no != 1 or rows.empty:
            return
        with self._lock:
            for obj, key in self._wanted:
                column = next((c for c in rows.columns if c.lower() == key), None) \
                    if obj == step.object.lower() else None
                if column is None and obj == step.object.lower() and key == (step.key_column or "").lower():
                    column = "key" if "key" in rows else None
                if column is not None:
                    values = rows[column]
                    self._failed.setdefault((obj, key), KeySet()).add(key_hashes(values[values != ""]))

    def orphans(self, step: StepEntry, rows: pd.DataFrame) -> pd.DataFrame:
        """Rows whose parent (or, in pass 2, whose own record) failed: index -> reason, parent object and key."""
        found = []
        checks = lookup_targets(self.manifest, step)
        if step.pass_no == 2 and step.key_column:
            checks.insert(0, (step.key_column, step.object, step.key_column))
        for header, target, key in checks:
            with self._lock:
                failed = self._failed.get((target.lower(), key.lower()))
            if failed is None or header not in rows:
                continue
            values = rows[header]
            hit = (values != "").to_numpy() & failed.contains(key_hashes(values))
            if hit.any():
                own = step.pass_no == 2 and header == step.key_column
                reason = "the record itself failed to load" if own else f"parent {target} failed to load"
                found.append(pd.DataFrame({"index": rows.index[hit], "reason": reason, "parent_object": target,
                                           "parent_key": values[hit].to_numpy()}))
        if not found:
            return pd.DataFrame(columns=["reason", "parent_object", "parent_key"])
        return pd.concat(found).drop_duplicates("index").set_index("index")
