"""What a plan needs of the org's daily limits, against what is left today (``GET /limits``).

Bulk API 2.0 counts one batch per 10,000 records of an ingest job, Bulk API 1.0 every batch it is
sent (at most 10,000 records each): both draw on ``DailyBulkApiBatches``. Every HTTP call counts
toward ``DailyApiRequests``; a job needs at least: create, upload, close, one status poll and its
three result files (Bulk 2.0), or create, one call per batch, close, one poll and one result per
batch (Bulk 1.0). A plan whose minimum does not fit in what is left is refused, with the numbers:
it would stop part-way, leaving a half-loaded org.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from migrator.compile.manifest import Manifest

RECORDS_PER_BATCH = 10_000
BULK2_CALLS_PER_JOB = 7
BULK1_CALLS_PER_JOB = 3


@dataclass(frozen=True)
class LimitUse:
    name: str
    needed: int
    remaining: int | None
    maximum: int | None

    @property
    def fits(self) -> bool:
        return self.remaining is None or self.needed <= self.remaining

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits}

    def message(self) -> str:
        return (f"{self.name}: this plan needs at least {self.needed:,}, and {self.remaining:,} of "
                f"{self.maximum:,} are left today")


def plan_needs(manifest: Manifest) -> dict[str, int]:
    """Records, Bulk batches and API calls the plan's parts need at the least (retries aside)."""
    records = batches = calls = 0
    for step in manifest.steps:
        for part in step.parts:
            if part.rows == 0:
                continue
            part_batches = math.ceil(part.rows / RECORDS_PER_BATCH)
            records += part.rows
            batches += part_batches
            calls += BULK2_CALLS_PER_JOB if step.api == "bulk2" else BULK1_CALLS_PER_JOB + 2 * part_batches
    return {"records": records, "DailyBulkApiBatches": batches, "DailyApiRequests": calls}


def limit_uses(manifest: Manifest, limits: Mapping[str, Any]) -> list[LimitUse]:
    needs = plan_needs(manifest)
    uses = []
    for name in ("DailyBulkApiBatches", "DailyApiRequests"):
        entry = limits.get(name) or {}
        remaining = entry.get("Remaining")
        uses.append(LimitUse(name, needs[name], None if remaining is None else int(remaining),
                             None if entry.get("Max") is None else int(entry["Max"])))
    return uses
