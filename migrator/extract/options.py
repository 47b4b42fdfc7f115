"""What an extract is asked to do, and what it wrote per step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.extract.download import DEFAULT_PAGE_ROWS, DEFAULT_WORKERS
from migrator.extract.write import DEFAULT_MEMORY_ROWS


@dataclass(frozen=True)
class ExtractOptions:
    """What to extract and how. `where` holds `OBJECT=CONDITION` pairs as given."""

    select: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    limit: int | None = None
    pk_chunking: int | None = None
    id_ranges: int | None = None
    workers: int = DEFAULT_WORKERS
    page_rows: int = DEFAULT_PAGE_ROWS
    memory_rows: int = DEFAULT_MEMORY_ROWS
    variables: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"select": list(self.select), "where": list(self.where), "limit": self.limit,
                "pk_chunking": self.pk_chunking, "id_ranges": self.id_ranges, "workers": self.workers,
                "page_rows": self.page_rows, "memory_rows": self.memory_rows, "variables": dict(self.variables)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExtractOptions:
        return cls(select=tuple(data.get("select") or ()), where=tuple(data.get("where") or ()),
                   limit=data.get("limit"), pk_chunking=data.get("pk_chunking"), id_ranges=data.get("id_ranges"),
                   workers=int(data.get("workers") or DEFAULT_WORKERS),
                   page_rows=int(data.get("page_rows") or DEFAULT_PAGE_ROWS),
                   memory_rows=int(data.get("memory_rows") or DEFAULT_MEMORY_ROWS),
                   variables=dict(data.get("variables") or {}))


@dataclass(frozen=True)
class StepFile:
    """One step's written source file."""

    step: str
    object: str
    file: Path
    rows: int
    mode: str
