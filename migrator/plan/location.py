"""Where a node of the plan was written. Its own module because every part of the model (the
steps in `model`, generated sources and masks in `fakespec`) locates its nodes with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a node was written: file, 1-based line, and its path inside the plan."""

    file: str
    line: int | None
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


NOWHERE = Location(file="<plan>", line=None, path="")
