"""The predicted outcome of a load, per plan step: rows created, updated, unchanged, deleted, not
found (an update or delete of a record the org does not have) or rejected before sending.

A source row is counted once, by its pass-1 row (whatever hierarchy level it loads at); its
pass-2 update (deferred lookups) only turns an unchanged row into an updated one. The counts add
up: ``source rows - filtered = rejected + created + updated + unchanged + deleted + not found +
parent missing`` (a row naming a parent neither the org nor the load has would fail, or be skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from migrator.check.compare import CREATE, DELETE, NOT_FOUND, PARENT_MISSING, UNCHANGED, UPDATE
from migrator.check.targetdiff import StepDiff
from migrator.compile.manifest import Manifest


@dataclass(frozen=True)
class StepForecast:
    """One plan step's predicted outcome: its source rows, filtered and rejected before sending,
    and the rows the org would create, update, leave unchanged, delete, or not find."""

    step: str
    object: str
    operation: str
    source_rows: int
    filtered: int
    rejected: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    not_found: int = 0
    parent_missing: int = 0

    @property
    def refused(self) -> int:
        """Rows that would not load: rejected before sending, not found by the org, or naming a
        parent that neither the org nor this load has."""
        return self.rejected + self.not_found + self.parent_missing

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def forecast(manifest: Manifest, diffs: Mapping[str, StepDiff]) -> list[StepForecast]:
    """Aggregate the row outcomes of every compiled step into one forecast per plan step."""
    result = []
    for summary in manifest.sources:
        steps = [s for s in manifest.steps if s.step == summary.step]
        first = [diffs[s.id] for s in steps if s.pass_no == 1 and s.id in diffs]
        second = [diffs[s.id] for s in steps if s.pass_no == 2 and s.id in diffs]
        operation = steps[0].operation if steps else "upsert"
        outcomes = np.concatenate([o for d in first for o in d.parts.values()] or [np.array([], dtype=object)])
        if second:
            keys = np.concatenate([k for d in first for k in d.keys.values()] or [np.array([], dtype=object)])
            updated_later = set(pd.Series(np.concatenate([k[o == UPDATE] for d in second
                                                          for k, o in zip(d.keys.values(), d.parts.values(),
                                                                          strict=True)])).str.lower())
            later = pd.Series(keys).astype("str").str.lower().isin(updated_later).to_numpy()
            outcomes = np.where((outcomes == UNCHANGED) & later, UPDATE, outcomes)
        kinds = (CREATE, UPDATE, UNCHANGED, DELETE, NOT_FOUND, PARENT_MISSING)
        counts = {value: int((outcomes == value).sum()) for value in kinds}
        result.append(StepForecast(step=summary.step, object=summary.object, operation=operation,
                                   source_rows=summary.source_rows, filtered=summary.filtered,
                                   rejected=summary.rejected, created=counts[CREATE], updated=counts[UPDATE],
                                   unchanged=counts[UNCHANGED], deleted=counts[DELETE], not_found=counts[NOT_FOUND],
                                   parent_missing=counts[PARENT_MISSING]))
    return result
