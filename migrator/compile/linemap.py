"""Physical lines of CSV records, and the quoting mistakes a CSV parser silently accepts.

A record's number and its line in the file differ as soon as a quoted value holds a line break,
or blank lines sit between records (the parser skips them): record 200 may start on line 240.
People open the file in an editor, so every row reference names the line. Arrow's parser does
not report lines, so they are computed here from two cheap facts: how many line breaks each
record's values hold (counted in Arrow, vectorised), and where the file's empty lines are (one
pass over the raw bytes at memory speed; only blocks that hold an empty line are looked at
closely). A line break is LF, CRLF or a lone CR, as Arrow reads them.

A stray `"` makes the parser read on, across lines, to the next quote or to the end of the
file, merging records into one value. This module finds the two shapes that takes: a quote still
open at the end of the file (`open_quote_line`), and a multi-line value one of whose lines holds
as many delimiters as a whole record (`swallowed_records`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCAN_BLOCK_BYTES = 4 * 1024 * 1024
_PROBE = '\r\n",;\t|'


def ascii_compatible(encoding: str) -> bool:
    """True when line breaks, quotes and delimiters are the same single bytes as in ASCII."""
    try:
        return _PROBE.encode(codecs.lookup(encoding).name) == _PROBE.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def may_hold(array: pa.Array, text: bytes) -> bool:
    """False if no value of a text array holds `text`: one scan of the bytes of its values at
    memory speed, where a per-value search costs ten times more (True may be wrong when `text`
    spans two values, so callers then look value by value)."""
    buffers = array.buffers()
    if len(array) == 0 or len(buffers) < 3 or buffers[1] is None or buffers[2] is None:
        return False
    width = np.int64 if pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=width)[array.offset:array.offset + len(array) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    return text in buffers[2].slice(start, end - start).to_pybytes()


def breaks_in(array: pa.Array) -> np.ndarray:
    """Line breaks inside each value of a text array (LF, CRLF and lone CR count one each)."""
    if not (may_hold(array, b"\n") or may_hold(array, b"\r")):
        return np.zeros(len(array), dtype=np.int64)
    newlines = pc.count_substring(array, "\n")
    total = np.asarray(newlines.to_numpy(zero_copy_only=False), dtype=np.int64)
    returns = pc.count_substring(array, "\r")
    if pc.sum(returns).as_py():
        both = pc.count_substring(array, "\r\n").to_numpy(zero_copy_only=False)
        total = total + returns.to_numpy(zero_copy_only=False) - both
    return total


def breaks_in_text(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# --- the raw pass ----------------------------------------------------------------------------------


@dataclass
class RawLines:
    """What one pass over a file's raw text found: its empty lines, and where each block starts."""

    empty_lines: np.ndarray  # 1-based numbers of zero-length lines, ascending
    blocks: list[tuple[int, int]] = field(default_factory=list)  # (offset, line number there)


def _units(block: bytes | str) -> np.ndarray:
    if isinstance(block, bytes):
        return np.frombuffer(block, dtype=np.uint8)
    return np.frombuffer(block.encode("utf-32-le"), dtype=np.uint32)


def _break_ends(block: bytes | str) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) offsets of every line break in the block; a block never ends inside a CRLF."""
    units = _units(block)
    is_lf, is_cr = units == 10, units == 13
    cr_lf = np.zeros(len(units), dtype=bool)
    cr_lf[:-1] = is_cr[:-1] & is_lf[1:]
    ends = np.flatnonzero(is_lf | (is_cr & ~cr_lf))
    starts = ends - (is_lf[ends] & np.concatenate(([False], cr_lf[:-1]))[ends])
    return starts, ends


def _has_empty_line(block: bytes | str, at_line_start: bool, has_cr: bool) -> bool:
    lf, cr = ("\n", "\r") if isinstance(block, str) else (b"\n", b"\r")
    if at_line_start and block[:1] in (lf, cr):
        return True
    return lf + lf in block or (has_cr and (cr + cr in block or lf + cr in block))


def _blocks(path: Path, encoding: str, size: int, start: int = 0) -> Iterator[bytes | str]:
    """The file from offset `start` as blocks of raw bytes (ASCII-compatible encodings) or of
    decoded text (offsets then count characters), never split inside a CRLF."""
    decoder = None if ascii_compatible(encoding) else codecs.getincrementaldecoder(encoding)("replace")
    carry: bytes | str = b"" if decoder is None else ""
    to_drop = 0 if decoder is None else start
    with path.open("rb") as handle:
        if decoder is None:
            handle.seek(start)
        while True:
            raw = handle.read(size)
            block: bytes | str = raw if decoder is None else decoder.decode(raw, final=not raw)
            if to_drop:
                dropped = min(to_drop, len(block))
                block, to_drop = block[dropped:], to_drop - dropped
            block = carry + block  # type: ignore[operator]
            if not raw:
                if block:
                    yield block
                return
            cr = "\r" if isinstance(block, str) else b"\r"
            carry, block = (block[-1:], block[:-1]) if block[-1:] == cr else (block[:0], block)
            if block:
                yield block


def _breaks(block: bytes | str, has_cr: bool = True) -> int:
    lf, cr = ("\n", "\r") if isinstance(block, str) else (b"\n", b"\r")
    if not has_cr:
        return block.count(lf)
    return block.count(lf) + block.count(cr) - block.count(cr + lf)


def scan_raw(path: Path, encoding: str, block_bytes: int = SCAN_BLOCK_BYTES) -> RawLines:
    """One pass over the file: the lines of its empty lines (the parser skips them), and an index
    of block offsets to find a line's offset again without a second full pass."""
    empty: list[np.ndarray] = []
    blocks: list[tuple[int, int]] = []
    offset, line, at_line_start = 0, 1, True
    utf8 = ascii_compatible(encoding) and codecs.lookup(encoding).name == "utf-8"
    for block in _blocks(path, encoding, block_bytes):
        if offset == 0:
            bom: bytes | str = codecs.BOM_UTF8 if utf8 else ("\ufeff" if isinstance(block, str) else b"")
            if bom and block[:len(bom)] == bom:
                block, offset = block[len(bom):], len(bom)
        blocks.append((offset, line))
        has_cr = ("\r" if isinstance(block, str) else b"\r") in block
        if _has_empty_line(block, at_line_start, has_cr):
            starts, ends = _break_ends(block)
            previous_end = np.concatenate(([-1 if at_line_start else -2], ends[:-1]))
            empty.append(line + np.flatnonzero(starts == previous_end + 1))
        line += _breaks(block, has_cr)
        at_line_start = block[-1:] in (("\n", "\r") if isinstance(block, str) else (b"\n", b"\r"))
        offset += len(block)
    lines = np.concatenate(empty) if empty else np.zeros(0, dtype=np.int64)
    return RawLines(empty_lines=lines.astype(np.int64), blocks=blocks)


# --- records to lines ------------------------------------------------------------------------------


class LineNumbers:
    """Assigns each record, in file order, the physical line it starts on.

    Records are numbered as if the file had no empty lines (their `base`), then every empty line
    that lies between records (not inside a multi-line value) pushes the records after it down.
    """

    def __init__(self, empty_lines: np.ndarray):
        self._empty = empty_lines
        self._next_empty = 0
        self.skipped_empty = 0  # empty lines between the records assigned so far
        self._base = 1

    def assign(self, breaks: np.ndarray) -> np.ndarray:
        """First lines of the next records, given the line breaks inside each one."""
        count = len(breaks)
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        breaks = breaks.astype(np.int64)
        bases = self._base + np.arange(count, dtype=np.int64)
        bases[1:] += np.cumsum(breaks[:-1])
        last = int(bases[-1] + breaks[-1])
        self._base = last + 1
        pending = self._empty[self._next_empty:]
        if pending.size == 0 or pending[0] - self.skipped_empty > last:
            return bases + self.skipped_empty
        if breaks.any():
            between, used = self._between(pending, bases, breaks, last)
        else:  # no multi-line record: every empty line up to `last` lies between records
            virtual = pending - self.skipped_empty - np.arange(pending.size)
            used = int(np.searchsorted(virtual, last, side="right"))
            between = virtual[:used]
        lines = bases + self.skipped_empty + np.searchsorted(between, bases, side="right")
        self._next_empty += used
        self.skipped_empty += len(between)
        return lines

    def _between(self, pending: np.ndarray, bases: np.ndarray, breaks: np.ndarray, last: int
                 ) -> tuple[np.ndarray, int]:
        """Virtual positions of the empty lines between records up to `last`, and how many empty
        lines were looked at (those inside a multi-line value belong to their record)."""
        between: list[int] = []
        shift, used = self.skipped_empty, 0
        for empty_line in pending.tolist():
            virtual = empty_line - shift
            if virtual > last:
                break
            used += 1
            record = int(np.searchsorted(bases, virtual, side="right")) - 1
            if record >= 0 and bases[record] < virtual <= bases[record] + breaks[record]:
                continue
            between.append(virtual)
            shift += 1
        return np.asarray(between, dtype=np.int64), used


# --- quoting mistakes ------------------------------------------------------------------------------


def swallowed_records(values: Sequence[str], delimiter: str, columns: int) -> list[int]:
    """For each multi-line value, the 0-based line inside it that holds as many delimiters as a
    whole record (-1 if none): the sign of a stray quote that swallowed the records after it."""
    found = []
    for value in values:
        inner = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        found.append(next((i for i, text in enumerate(inner[1:], 1) if text.count(delimiter) >= columns - 1),
                          -1))
    return found


def _tail(path: Path, encoding: str, raw: RawLines, line: int) -> Iterator[str]:
    """The file's text from the start of `line` to its end, in decoded pieces."""
    start, first = max((b for b in raw.blocks if b[1] <= line), default=(0, 1))
    skip = line - first
    decoder = codecs.getincrementaldecoder(encoding)("replace") if ascii_compatible(encoding) else None
    for block in _blocks(path, encoding, SCAN_BLOCK_BYTES, start):
        if skip:
            _, ends = _break_ends(block)
            if len(ends) < skip:
                skip -= len(ends)
                continue
            block, skip = block[int(ends[skip - 1]) + 1:], 0
        yield block if decoder is None else decoder.decode(block)  # type: ignore[arg-type]
    if decoder is not None:
        yield decoder.decode(b"", final=True)


def open_quote_line(path: Path, encoding: str, delimiter: str, raw: RawLines, last_record_line: int
                    ) -> int | None:
    """The line where a quote opens that is still open at the end of the file, or None.

    Reads from the last record's first line to the end with the parser's own quoting rules: a
    quote opens a value only at its start; inside, `""` is a quote; after the closing quote the
    value goes on unquoted up to the delimiter or line break.
    """
    specials = re.compile(f"[{re.escape(delimiter)}\r\n]")
    state, line, opened, after_cr = "start", last_record_line, 0, False
    for text in _tail(path, encoding, raw, last_record_line):
        if after_cr and text.startswith("\n"):
            line -= 1  # a CRLF cut between two pieces is one line break, counted again below
        after_cr = text.endswith("\r")
        pos = 0
        while pos < len(text):
            if state == "start":
                if text[pos] == '"':
                    state, opened, pos = "quoted", line, pos + 1
                    continue
                state = "plain"
            if state == "quoted":
                end = text.find('"', pos)
                stop = end if end >= 0 else len(text)
                line += breaks_in_text(text[pos:stop])
                state, pos = ("after_quote", end + 1) if end >= 0 else ("quoted", stop)
            elif state == "after_quote":
                state, pos = ("quoted", pos + 1) if text[pos] == '"' else ("plain", pos)
            else:
                found = specials.search(text, pos)
                if found is None:
                    pos = len(text)
                    continue
                pos, char = found.end(), found.group()
                if char in "\r\n":
                    line += 1
                    pos += 1 if char == "\r" and text[pos:pos + 1] == "\n" else 0
                state = "start"
    return opened if state == "quoted" else None
