"""Finding a step's source files, naming them in messages, and telling their format from their bytes.

Files are found only inside the plan's project (`Plan.roots`): a glob, or a symbolic link, that
leads outside it is refused, never read. A file whose first bytes show another format than its
kind (a Parquet file named `.csv`, a CSV named `.xlsx`) is refused with a message naming both,
before a reader can fail with a decode error about a format the user never meant.
"""

from __future__ import annotations

import glob
from pathlib import Path

from migrator.errors import SourceDataError
from migrator.plan.model import SourceSpec
from migrator.plan.project import inside
from migrator.plan.source_checks import ALLOW_HINT

SNIFF_BYTES = 512
_NAMES = {"csv": "CSV text", "parquet": "a Parquet file", "xlsx": "an Excel workbook (.xlsx)",
          "jsonl": "JSON Lines", "json": "JSON", "xls": "an Excel 97-2003 workbook (.xls)",
          "zip": "a ZIP archive", "binary": "binary data", "empty": "empty"}


def resolve_source(sources_dir: Path, spec: SourceSpec, roots: tuple[Path, ...] | None = None) -> list[Path]:
    """The existing files a source pattern names, resolved and sorted.

    The pattern is a file name or glob relative to `sources_dir` (`../` is resolved). Directories
    never match. With `roots`, a match outside them (through `..`, an absolute pattern or a symbolic
    link) raises SourceDataError: sources are read only inside the plan's project.
    """
    pattern = spec.pattern
    base = Path(sources_dir)
    if not glob.has_magic(pattern):
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


def display_name(file: Path, base: Path) -> str:
    """A source file's name relative to the sources directory, for messages."""
    try:
        return file.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(file)


def sniff(path: Path) -> str:
    """What the first bytes of a file say it is: parquet, xlsx (or another zip), xls, json, binary,
    empty, or csv (text that is none of the others)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise SourceDataError(f"cannot be read: {exc.strerror or exc}", file=str(path)) from None
    if not head:
        return "empty"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx" if b"[Content_Types].xml" in head or b"xl/" in head or b"docProps" in head else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # not UTF-16 text
        return "binary"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "json"
    return "csv"


def check_kind(path: Path, name: str, kind: str) -> None:
    """Refuse a file whose bytes are of another format than `kind`, naming the file and both formats."""
    found = sniff(path)
    if found == "empty":
        if kind in ("parquet", "xlsx"):
            raise SourceDataError(f"is empty, not {_NAMES[kind]}", file=name)
        return
    # CSV takes NUL bytes (they become rejects) and a header that starts like JSON (`[id],name`)
    fits = {"csv": ("csv", "json", "binary"), "jsonl": ("json",), "json": ("json",), "parquet": ("parquet",),
            "xlsx": ("xlsx",)}[kind]
    if found in fits:
        return
    advice = {"xls": "; save it as .xlsx", "zip": ""}.get(found, f"; set kind: {found}" if found in _NAMES and
                                                             found not in ("binary", "json") else "")
    if found == "json" and kind not in ("json", "jsonl"):
        advice = "; set kind: json or jsonl"
    raise SourceDataError(f"is read as {_NAMES[kind]} but its content is {_NAMES[found]}{advice}", file=name)
