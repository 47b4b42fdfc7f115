"""File I/O of tables the run writes and reads back: Bulk-valid parts, rejects, result files.

Writes go through Arrow's C++ CSV engine and quote values as needed, which is valid RFC 4180,
what Salesforce itself writes in result files, and safe for any content (commas, quotes, CR and
LF inside values). Output is UTF-8 without BOM with LF line ends, so identical input gives
byte-identical parts. Source files are read by `csvread`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from migrator.compile.csvread import TEXT, as_text_frame, read_header_record, read_text_table

_STR = TEXT


# --- writing -----------------------------------------------------------------------------------


def encode_rows(frame: pd.DataFrame) -> bytes:
    """CSV body (no header) for text columns: every value quoted, LF line ends."""
    if frame.empty:
        return b""
    table = pa.Table.from_pandas(frame.astype(_STR).fillna(""), preserve_index=False)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def header_line(columns: Sequence[str]) -> bytes:
    """Header of API names. They never need quoting, and Salesforce echoes them verbatim."""
    return (",".join(_quote_if_needed(c) for c in columns) + "\n").encode("utf-8")


def _quote_if_needed(name: str) -> str:
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


@dataclass
class PartInfo:
    path: Path
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    _digest: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)


class PartWriter:
    """Writes a step's rows into part-0001.csv, part-0002.csv, ... split by row count and size.

    Beside each part, `part-NNNN.source.csv` lists the source file and row of every line, in the
    same order, so that results can be traced back to the source row that produced them.
    """

    def __init__(self, folder: Path, columns: Sequence[str], *, max_rows: int, max_bytes: int, prefix: str = "part"):
        self.folder, self.columns, self.prefix = folder, list(columns), prefix
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.parts: list[PartInfo] = []
        self._current: PartInfo | None = None
        self._data = self._index = None

    def write(self, rows: pd.DataFrame, source_files: pd.Series, source_rows: pd.Series) -> None:
        rows = rows[self.columns]
        start = 0
        while start < len(rows):
            part = self._current or self._open()
            room = self.max_rows - part.rows
            piece = rows.iloc[start : start + room]
            data = encode_rows(piece)
            while part.bytes + len(data) > self.max_bytes and len(piece) > 1:
                piece = piece.iloc[: len(piece) // 2]
                data = encode_rows(piece)
            if part.bytes + len(data) > self.max_bytes and part.rows > 0:
                self._close()
                continue
            self._append(
                part,
                data,
                len(piece),
                source_files.iloc[start : start + len(piece)],
                source_rows.iloc[start : start + len(piece)],
            )
            start += len(piece)
            if part.rows >= self.max_rows:
                self._close()

    def _open(self) -> PartInfo:
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self.parts) + 1
        part = PartInfo(path=self.folder / f"{self.prefix}-{number:04d}.csv")
        head = header_line(self.columns)
        self._data = part.path.open("wb")
        self._index = (self.folder / f"{self.prefix}-{number:04d}.source.csv").open("wb")
        self._index.write(b"source_file,source_row\n")
        self._data.write(head)
        part._digest.update(head)
        part.bytes = len(head)
        self._current = part
        self.parts.append(part)
        return part

    def _append(self, part: PartInfo, data: bytes, count: int, files: pd.Series, rows: pd.Series) -> None:
        assert self._data is not None and self._index is not None
        self._data.write(data)
        part._digest.update(data)
        part.bytes += len(data)
        part.rows += count
        self._index.write(
            encode_rows(pd.DataFrame({"f": files.to_numpy(), "r": rows.astype(str).to_numpy()}))
        )

    def _close(self) -> None:
        if self._current is not None:
            assert self._data is not None and self._index is not None
            self._data.close()
            self._index.close()
            self._current.sha256 = self._current._digest.hexdigest()
            self._current = None

    def end_part(self) -> None:
        """Start a new part with the next row (lock-aware parts end where a parent's rows end)."""
        self._close()

    def close(self) -> list[PartInfo]:
        self._close()
        return self.parts


class TableAppender:
    """A CSV file written in pieces (rejects, missing parents, result files); header on first write."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.path, self.columns = path, list(columns)
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(header_line(self.columns))

    def append(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        with self.path.open("ab") as handle:
            handle.write(encode_rows(frame[self.columns]))
        self.rows += len(frame)


def write_table(path: Path, frame: pd.DataFrame) -> None:
    TableAppender(path, list(frame.columns)).append(frame)


def read_table(path: Path, *, delimiter: str = ",") -> pd.DataFrame:
    """A whole small CSV as text columns (result files, part files, source indexes).

    An empty file (a server's answer for a job that never received data) is an empty table.
    """
    if path.stat().st_size == 0:
        return pd.DataFrame()
    header = read_header_record(path, "utf-8", delimiter, str(path))
    table = read_text_table(path, header, delimiter=delimiter)
    return (
        as_text_frame(table) if table.num_rows else pd.DataFrame({c: pd.Series(dtype=_STR) for c in header})
    )
