"""CSV files behind the `SourceReader` seam: `csvread` streams them, this module adds the cheap
header read (and the encoding check of a sample) that `validate` makes on every run."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from migrator.compile.csvread import read_source, scan_source
from migrator.compile.readers.base import SourceChunk, SourceWarning
from migrator.compile.readers.files import check_kind
from migrator.errors import SourceDataError

ENCODING_SAMPLE_BYTES = 1 << 20


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise SourceDataError(f"unknown encoding {encoding!r}") from None


def text_encoding(encoding: str) -> str:
    """The codec to open a source with: UTF-8 files may start with a BOM, which is skipped."""
    return "utf-8-sig" if _codec_name(encoding) == "utf-8" else encoding


def read_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """The column names of a CSV file: its first record, BOM stripped.

    Raises SourceDataError naming the file if it cannot be decoded, is empty, or is not CSV.
    """
    codec = text_encoding(encoding)
    try:
        with open(path, encoding=codec, newline="") as handle:
            record = next(csv.reader(handle, delimiter=delimiter), None)
    except UnicodeDecodeError:
        check_encoding(path, encoding)  # raises with the line of the first bad byte
        raise SourceDataError(f"cannot be decoded as {encoding}; set source.encoding",
                              file=str(path)) from None
    except csv.Error as exc:
        raise SourceDataError(f"header is not valid CSV: {exc}", file=str(path)) from None
    except OSError as exc:
        raise SourceDataError(f"cannot be read: {exc.strerror or exc}", file=str(path)) from None
    if not record or record == [""]:
        raise SourceDataError("is empty: a source file needs a header row", file=str(path))
    if record[0].startswith("\ufeff"):
        record[0] = record[0][1:]
    return record


def check_encoding(path: Path, encoding: str, sample_bytes: int = ENCODING_SAMPLE_BYTES) -> None:
    """Decode the first `sample_bytes` of the file, raising SourceDataError with the line of the
    first byte that is not valid in `encoding` (a cheap early warning; the reader checks all)."""
    decoder = codecs.getincrementaldecoder(text_encoding(encoding))()
    try:
        with open(path, "rb") as handle:
            sample = handle.read(sample_bytes)
    except OSError as exc:
        raise SourceDataError(f"cannot be read: {exc.strerror or exc}", file=str(path)) from None
    try:
        decoder.decode(sample, final=len(sample) < sample_bytes)
    except UnicodeDecodeError as exc:
        line = sample.count(b"\n", 0, exc.start) + 1
        raise SourceDataError(f"cannot be decoded as {encoding}: byte {sample[exc.start:exc.start + 1]!r} "
                              f"on line {line} is not valid {encoding}; set source.encoding (e.g. "
                              "cp1252 or latin-1)", file=str(path)) from None


@dataclass
class CsvReader:
    """One CSV file: rows located by physical line (see `csvread`)."""

    path: Path
    name: str
    encoding: str = "utf-8"
    delimiter: str = ","
    block_bytes: int = 2 * 1024 * 1024
    kind: str = "csv"

    def columns(self) -> tuple[str, ...]:
        check_kind(self.path, self.name, "csv")
        try:
            header = read_header(self.path, self.encoding, self.delimiter)
            check_encoding(self.path, self.encoding)
        except SourceDataError as exc:
            raise SourceDataError(str(exc).replace(str(self.path), self.name, 1)) from None
        return tuple(header)

    def chunks(self) -> Iterator[SourceChunk]:
        check_kind(self.path, self.name, "csv")
        return read_source(self.path, self.name, encoding=self.encoding, delimiter=self.delimiter,
                           block_bytes=self.block_bytes)

    def scan(self) -> list[SourceWarning]:
        check_kind(self.path, self.name, "csv")
        return scan_source(self.path, self.name, encoding=self.encoding, delimiter=self.delimiter)
