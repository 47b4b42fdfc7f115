"""Finding a step's source files and reading their headers.

Used by the plan checks (`read_headers`, handed to `load_plan`, to check that the columns a plan
names exist before anything runs) and by the planner (to know which files to read). Reading stays
minimal: a header is one CSV record, and the encoding check decodes a bounded sample, so
validating a plan over huge files stays instant. `scan_headers` (for `validate --sources`) reads
every file in full instead, to find what only a full read finds: an unclosed quote, an
undecodable byte past the sample, records merged by a stray quote.

Files are found only inside the plan's project (`Plan.roots`): a glob, or a symbolic link, that
leads outside it is refused, never read.
"""

from __future__ import annotations

import codecs
import csv
import glob
from pathlib import Path

from migrator.compile.csvread import scan_source
from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec
from migrator.plan.project import inside
from migrator.plan.source_checks import ALLOW_HINT, SourceHeader

ENCODING_SAMPLE_BYTES = 1 << 20


def _is_glob(pattern: str) -> bool:
    return glob.has_magic(pattern)


def resolve_source(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...] | None = None) -> list[Path]:
    """The existing files a source pattern names, resolved and sorted.

    The pattern is a file name or glob relative to `sources_dir` (`../` is resolved). Directories
    never match. With `roots`, a match outside them (through `..`, an absolute pattern or a symbolic
    link) raises SourceDataError: sources are read only inside the plan's project.
    """
    pattern = spec.pattern
    base = Path(sources_dir)
    if not _is_glob(pattern):
        candidate = (base / pattern).resolve()
        found = [candidate] if candidate.is_file() else []
    else:
        # root_dir keeps glob characters in the directory's own name literal; absolute patterns ignore it.
        matches = {(base / p).resolve() for p in glob.glob(pattern, root_dir=base, recursive=True)}
        found = sorted(p for p in matches if p.is_file())
    outside = [p for p in found if roots is not None and not inside(p, roots)]
    if outside:
        raise SourceDataError(f"source {pattern!r} leads to {str(outside[0])!r}, outside the plan's project "
                              f"({', '.join(str(r) for r in roots or ())}); {ALLOW_HINT}")
    return found


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


def display_name(file: Path, base: Path) -> str:
    """A source file's name relative to the sources directory, for messages."""
    try:
        return file.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(file)


def _headers(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...], *, scan: bool) -> list[SourceHeader]:
    try:
        files = resolve_source(sources_dir, spec, roots)
    except SourceDataError as exc:
        return [SourceHeader(spec.pattern, None, str(exc))]
    headers = []
    for file in files:
        name = display_name(file, sources_dir)
        try:
            columns = read_header(file, spec.encoding, spec.delimiter)
            check_encoding(file, spec.encoding)
        except SourceDataError as exc:
            headers.append(SourceHeader(name, None, str(exc).replace(str(file), name, 1)))
            continue
        if not scan:
            headers.append(SourceHeader(name, tuple(columns)))
            continue
        try:
            warnings = scan_source(file, name, encoding=spec.encoding, delimiter=spec.delimiter)
        except SourceDataError as exc:
            headers.append(SourceHeader(name, tuple(columns), str(exc)))
            continue
        headers.append(SourceHeader(name, tuple(columns), None, tuple((w.line, w.message) for w in warnings)))
    return headers


def read_headers(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...]) -> list[SourceHeader]:
    """The header of every file `spec` matches (a `HeaderReader` for `load_plan`): its columns, or
    the error that kept them from being read, worded with the file's short name."""
    return _headers(sources_dir, spec, roots, scan=False)


def scan_headers(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...]) -> list[SourceHeader]:
    """`read_headers`, with every file read in full (`validate --sources`): its errors (an unclosed
    quote, a byte the encoding cannot decode) and warnings (records a stray quote merged) too."""
    return _headers(sources_dir, spec, roots, scan=True)
