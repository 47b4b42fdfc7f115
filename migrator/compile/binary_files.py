"""Files named by binary fields (`VersionData: {file: path}`): checked, measured, and routed.

Each row's path is resolved in the plan's files folder (`sources.files`). A path that is blank,
absolute, leads outside that folder (or the project), names nothing, a folder, or a file that
cannot be read, makes the row a reject whose value is the path, before anything is sent. Files
that pass become `#relative/path` references, as a ZIP batch's `request.txt` names its files
(Bulk API guide, "Load Binary Attachments"), and their sizes are kept: a file that cannot fit in
a 10 MB ZIP batch is sent through the REST API's multipart insert instead (`REST_PART`).

Paths are looked up once each (a step naming one logo on every row stats it once).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from migrator.plan.project import inside

# A Bulk API 1.0 ZIP batch holds at most 10 MB (zipped) and, by the local org's and Salesforce's
# unconfirmed limits, 1,000 files and 20 MB unzipped. Files are packed by their raw size (PDFs and
# images hardly compress), leaving room for request.txt and the zip's own headers.
ZIP_BATCH_BYTES = 10_000_000
ZIP_FILE_BUDGET = 9_500_000  # the most file bytes one batch carries
ZIP_MAX_FILES = 999  # and request.txt
REST_SUFFIX = "@rest"  # the writer of a step's rows whose file goes through REST
# A ContentDocumentLink (or any ContentDocumentId) names its file by the plan's ContentVersion key:
# a ContentDocument has no external id to travel by, so the column carries the version's key and
# the run swaps in the ContentDocumentId Salesforce assigned once the versions loaded.
DOCUMENT_FIELD = "ContentDocumentId"
VERSION_OBJECT = "ContentVersion"


def resolves_document(field_name: str, target: str) -> bool:
    """Whether a lookup's values are ContentVersion keys that the run turns into ContentDocumentIds."""
    return field_name == DOCUMENT_FIELD and target == VERSION_OBJECT


@dataclass(frozen=True)
class FileCheck:
    """One step's binary field values checked: the `#path` references, the reason a row cannot
    be sent ('' when it can), and each file's size in bytes (0 for a refused row)."""

    references: pd.Series
    errors: pd.Series
    sizes: pd.Series


@dataclass
class FileStats:
    """What a step sends: files, their bytes, the largest, how many go through REST."""

    files: int = 0
    bytes: int = 0
    largest: int = 0
    rest: int = 0

    def add(self, sizes: pd.Series, by_rest: np.ndarray) -> None:
        values = np.asarray(sizes, dtype=np.int64)
        self.files += len(values)
        self.bytes += int(values.sum())
        self.largest = max(self.largest, int(values.max()) if len(values) else 0)
        self.rest += int(by_rest.sum())

    def as_dict(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes, "largest": self.largest, "rest": self.rest}


@dataclass
class FileResolver:
    folder: Path
    roots: tuple[Path, ...] = ()
    shown: str = ""  # the folder as messages name it (relative to the plan), default its full path
    _seen: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    def _look(self, raw: str) -> tuple[str, str, int]:
        """(reference, error, size) of one path as written."""
        text = raw.strip()
        if not text:
            return "", "no file: the path is blank", 0
        posix = PurePosixPath(text.replace("\\", "/"))
        if posix.is_absolute() or Path(text).is_absolute():
            return "", f"the path {text!r} is absolute; name files relative to the files folder", 0
        path = (self.folder / Path(*posix.parts)).resolve()
        if not inside(path, (self.folder.resolve(),)) or (self.roots and not inside(path, self.roots)):
            return "", f"the path {text!r} leads outside the files folder {self.shown or str(self.folder)!r}", 0
        try:
            stat = path.stat()
        except FileNotFoundError:
            return "", f"file not found: {text} (in the files folder {self.shown or self.folder})", 0
        except OSError as exc:
            return "", f"file {text} cannot be read: {exc.strerror or exc}", 0
        if not path.is_file():
            return "", f"{text} is a folder, not a file", 0
        if not os.access(path, os.R_OK):
            return "", f"file {text} cannot be read: permission denied", 0
        relative = path.relative_to(self.folder.resolve()).as_posix()
        return f"#{relative}", "", int(stat.st_size)

    def check(self, values: pd.Series) -> FileCheck:
        looked = {}
        for raw in pd.unique(values.astype("str").to_numpy()):
            if raw not in self._seen:
                self._seen[raw] = self._look(raw)
            looked[raw] = self._seen[raw]
        text = values.astype("str")
        references = text.map({k: v[0] for k, v in looked.items()}).astype("str")
        errors = text.map({k: v[1] for k, v in looked.items()}).astype("str")
        sizes = text.map({k: v[2] for k, v in looked.items()}).astype(np.int64)
        return FileCheck(references, errors, sizes)

    def size_of(self, references: pd.Series) -> pd.Series:
        """The sizes of files already checked, by their `#path` reference."""
        sizes = {ref: size for ref, _, size in self._seen.values() if ref}
        return references.map(sizes).fillna(0).astype(np.int64)


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:,} B"


def size_summary(sources: Iterable[Any]) -> list[str]:
    """One line per step that sends files (from the manifest's source summaries), said before
    anything is sent: how many, how big, the largest, and how many go through REST."""
    lines = []
    for source in sources:
        files = getattr(source, "binary_files", None)
        if not files:
            continue
        rest = f"; {files['rest']:,} bigger than a ZIP batch go through REST" if files["rest"] else ""
        lines.append(f"Files of {source.step}: {files['files']:,} file(s), {_size(files['bytes'])} in all, the "
                     f"largest {_size(files['largest'])}{rest}")
    return lines


def goes_by_rest(sizes: pd.Series | np.ndarray) -> np.ndarray:
    """Rows whose files are too big for one ZIP batch."""
    return np.asarray(sizes) > ZIP_FILE_BUDGET
