"""Generated sources (`generate:`, see `migrator.fake`) behind the reader seam: rows produced from
the plan instead of read. Their columns are the plan's; rows are numbered from 1 and referred to
as `generate:Step#N` (the file is `generate:Step`, the reference the row number)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from migrator.compile.readers.base import SourceChunk, SourceWarning, scan_chunks

Produce = Callable[[], Iterator[tuple[pd.DataFrame, np.ndarray]]]  # (text frame, 1-based row numbers) blocks


@dataclass
class GeneratedReader:
    name: str
    names: tuple[str, ...]
    produce: Produce
    kind: str = "generate"

    def columns(self) -> tuple[str, ...]:
        return self.names

    def chunks(self) -> Iterator[SourceChunk]:
        for frame, rows in self.produce():
            yield SourceChunk(frame=frame, file=self.name, rows=rows, lines=rows)

    def scan(self) -> list[SourceWarning]:
        return scan_chunks(self)
