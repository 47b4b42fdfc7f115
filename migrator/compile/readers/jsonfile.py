"""JSON sources: JSON Lines (one object a line) and JSON arrays of objects.

JSON Lines is read in blocks of whole lines by Arrow's JSON reader; a block Arrow cannot take (a
line that is not JSON, a value whose type changes from row to row) is read line by line instead,
so that a bad line becomes a reject naming its physical line and every other row still loads.
Rows are referred to by line, as in CSV (blank lines are skipped but counted).

A JSON array is decoded object by object from a buffered stream, never as one whole document;
its rows are referred to by index (`[16]`, counted from 0 as in JSONPath).

Nested objects become `a.b` columns; lists become compact JSON text. The columns are the keys of
the first block (or `columns:`, which also names keys the first rows lack): every chunk has exactly
those columns, blank where a row has no such key.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from migrator.compile.readers.base import InvalidRow, SourceChunk, SourceWarning, scan_chunks
from migrator.compile.readers.files import check_kind
from migrator.compile.readers.text import columns_frame, flatten, frame_text
from migrator.errors import SourceDataError

_WHITESPACE = np.array([0x20, 0x09, 0x0D, 0x0A], dtype=np.uint8)
_MAX_TEXT = 200  # characters of a bad line kept in rejects


def flat_record(record: dict, prefix: str = "", out: dict | None = None) -> dict:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (lists and scalars kept as they are)."""
    out = {} if out is None else out
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat_record(value, name + ".", out)
        else:
            out[name] = value
    return out


def _gather(records: list[dict], names: list[str] | None) -> tuple[dict[str, list[object]], list[str]]:
    """Columns of flattened records; `names` grows with keys first seen here when it is None."""
    flat = [flat_record(r) for r in records]
    seen = list(dict.fromkeys(k for r in flat for k in r)) if names is None else names
    return {name: [r.get(name) for r in flat] for name in seen}, seen


@dataclass
class _Block:
    data: bytes
    first_line: int  # the physical line the block starts on


def _line_blocks(path: Path, encoding: str, block_bytes: int) -> Iterator[_Block]:
    """The file in blocks of whole lines, as UTF-8."""
    line = 1
    carry = b""
    with path.open("rb") as handle:
        first = True
        while True:
            raw = handle.read(block_bytes)
            data = carry + raw
            if first:
                data, first = data.removeprefix(b"\xef\xbb\xbf"), False
            if not raw:
                if data:
                    yield _Block(_utf8(data, encoding), line)
                return
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            block, carry = data[:cut + 1], data[cut + 1:]
            yield _Block(_utf8(block, encoding), line)
            line += block.count(b"\n")


def _utf8(data: bytes, encoding: str) -> bytes:
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        return data
    return data.decode(encoding).encode("utf-8")


def _record_lines(data: bytes, first_line: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line numbers, start offsets, end offsets) of the block's lines holding anything but blanks."""
    raw = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 0x0A)
    ends = np.append(breaks, len(raw)) if not len(raw) or raw[-1] != 0x0A else breaks
    starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else np.zeros(0, dtype=np.int64)
    solid = np.concatenate([[0], np.cumsum(~np.isin(raw, _WHITESPACE))])
    present = solid[ends] - solid[starts] > 0
    numbers = np.arange(first_line, first_line + len(ends), dtype=np.int64)
    return numbers[present], starts[present], ends[present]


@dataclass
class JsonLinesReader:
    path: Path
    name: str
    wanted: tuple[str, ...] = ()
    encoding: str = "utf-8"
    block_bytes: int = 2 * 1024 * 1024
    kind: str = "jsonl"

    def _blocks(self) -> Iterator[_Block]:
        check_kind(self.path, self.name, "jsonl")
        try:
            yield from _line_blocks(self.path, self.encoding, self.block_bytes)
        except UnicodeDecodeError:
            raise SourceDataError(f"cannot be decoded as {self.encoding}; set source.encoding",
                                  file=self.name) from None
        except OSError as exc:
            raise SourceDataError(f"cannot be read: {exc.strerror or exc}", file=self.name) from None

    def _parse(self, block: _Block, names: list[str] | None
               ) -> tuple[pa.Table | dict[str, list[object]], np.ndarray, list[InvalidRow], list[str]]:
        """(columns, line of each row, invalid lines, the column names) of one block."""
        lines, starts, ends = _record_lines(block.data, block.first_line)
        try:
            table = flatten(pajson.read_json(io.BytesIO(block.data), read_options=pajson.ReadOptions(
                use_threads=False, block_size=max(len(block.data), 1) + 1)))
            if table.num_rows == len(lines):
                return table, lines, [], list(table.column_names) if names is None else names
        except pa.ArrowInvalid:
            pass
        return self._parse_lines(block.data, lines, starts, ends, names)

    def _parse_lines(self, data: bytes, lines: np.ndarray, starts: np.ndarray, ends: np.ndarray, names: list[str] | None
                     ) -> tuple[dict[str, list[object]], np.ndarray, list[InvalidRow], list[str]]:
        records, kept, invalid = [], [], []
        for number, start, end in zip(lines.tolist(), starts.tolist(), ends.tolist(), strict=True):
            text = data[start:end].decode("utf-8", "replace").strip()
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                invalid.append(InvalidRow(self.name, number, text[:_MAX_TEXT], f"not valid JSON ({exc.msg} at "
                                          f"column {exc.colno})", line=number))
                continue
            if not isinstance(value, dict):
                invalid.append(InvalidRow(self.name, number, text[:_MAX_TEXT], f"a JSON {type(value).__name__} "
                                          "where a JSON object is expected", line=number))
                continue
            records.append(value)
            kept.append(number)
        columns, names = _gather(records, names)
        return columns, np.array(kept, dtype=np.int64), invalid, names

    def columns(self) -> tuple[str, ...]:
        if self.wanted:
            return self.wanted
        for block in self._blocks():
            _, _, _, names = self._parse(block, None)
            if names:
                return tuple(names)
        raise SourceDataError("holds no JSON object: a source needs at least one row to name its columns",
                              file=self.name)

    def chunks(self) -> Iterator[SourceChunk]:
        names = list(self.columns())
        for block in self._blocks():
            parsed, lines, invalid, _ = self._parse(block, names)
            count = len(lines)
            if isinstance(parsed, pa.Table):
                frame = frame_text(parsed, names)
            else:
                frame = columns_frame(parsed, names, count)
            yield SourceChunk(frame, self.name, lines, lines, tuple(invalid))

    def scan(self) -> list[SourceWarning]:
        return scan_chunks(self)


@dataclass
class JsonArrayReader:
    path: Path
    name: str
    wanted: tuple[str, ...] = ()
    encoding: str = "utf-8"
    block_bytes: int = 2 * 1024 * 1024
    kind: str = "json"

    def _objects(self) -> Iterator[list[tuple[int, object]]]:
        """(index, value) of the array's items, in lists of about a block of text."""
        check_kind(self.path, self.name, "json")
        decoder = json.JSONDecoder()
        codec = "utf-8-sig" if self.encoding.lower().replace("-", "") in ("utf8", "utf8sig") else self.encoding
        try:
            handle = self.path.open("r", encoding=codec)
        except OSError as exc:
            raise SourceDataError(f"cannot be read: {exc.strerror or exc}", file=self.name) from None
        with handle:
            buffer, position, index, eof = "", 0, 0, False
            batch: list[tuple[int, object]] = []
            batch_chars, opened = 0, False

            def fill() -> bool:
                nonlocal buffer, position, eof
                more = handle.read(self.block_bytes)
                buffer, position = buffer[position:] + more, 0
                eof = not more
                return bool(more)

            try:
                fill()
                while True:
                    while position < len(buffer) and buffer[position] in (" \t\r\n," if opened else " \t\r\n"):
                        position += 1
                    if position >= len(buffer):
                        if eof or not fill():
                            raise SourceDataError("ends before the JSON array is closed (a missing ']')",
                                                  file=self.name)
                        continue
                    char = buffer[position]
                    if not opened:
                        if char != "[":
                            raise SourceDataError("is not a JSON array of objects (it starts with "
                                                  f"{char!r}); use kind: jsonl for one object a line",
                                                  file=self.name)
                        opened, position = True, position + 1
                        continue
                    if char == "]":
                        break
                    try:
                        value, end = decoder.raw_decode(buffer, position)
                    except json.JSONDecodeError as exc:
                        if not eof and fill():
                            continue
                        raise SourceDataError(f"is not valid JSON: {exc.msg} in item [{index}]",
                                              file=self.name) from None
                    if end == len(buffer) and not eof and fill():  # a number may go on in the next read
                        continue
                    batch.append((index, value))
                    batch_chars += end - position
                    index, position = index + 1, end
                    if batch_chars >= self.block_bytes:
                        yield batch
                        batch, batch_chars = [], 0
            except UnicodeDecodeError:
                raise SourceDataError(f"cannot be decoded as {self.encoding}; set source.encoding",
                                      file=self.name) from None
            if batch:
                yield batch

    def _split(self, items: list[tuple[int, object]]) -> tuple[list[dict], list[int], list[InvalidRow]]:
        records, kept, invalid = [], [], []
        for index, value in items:
            if isinstance(value, dict):
                records.append(value)
                kept.append(index)
            else:
                invalid.append(InvalidRow(self.name, index + 1, json.dumps(value)[:_MAX_TEXT],
                                          f"a JSON {type(value).__name__} where a JSON object is expected",
                                          line=f"[{index}]"))  # type: ignore[arg-type]
        return records, kept, invalid

    def columns(self) -> tuple[str, ...]:
        if self.wanted:
            return self.wanted
        for items in self._objects():
            records, _, _ = self._split(items)
            _, names = _gather(records, None)
            if names:
                return tuple(names)
        raise SourceDataError("holds no JSON object: a source needs at least one row to name its columns",
                              file=self.name)

    def chunks(self) -> Iterator[SourceChunk]:
        names = list(self.columns())
        for items in self._objects():
            records, kept, invalid = self._split(items)
            columns, _ = _gather(records, names)
            frame = columns_frame(columns, names, len(records))
            indexes = np.array(kept, dtype=np.int64)
            refs = np.array([f"[{i}]" for i in kept], dtype=object)
            yield SourceChunk(frame, self.name, indexes + 1, refs, tuple(invalid))

    def scan(self) -> list[SourceWarning]:
        return scan_chunks(self)

