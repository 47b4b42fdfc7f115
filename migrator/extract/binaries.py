"""Files back into the files folder: the bytes of a step's `{file: COLUMN}` fields.

A step that loads `VersionData: {file: path}` (or `Body: {file: file}`) is extracted with COLUMN
naming a path relative to the plan's files folder, and each record's bytes are downloaded there
through REST (`GET .../sobjects/ContentVersion/<Id>/VersionData`), so that `run` of the extract
output sends the same files. COLUMN keeps the value another field gives it (`PathOnClient: path`,
`Name: file`) when that is a safe relative path used by no other record; otherwise it becomes
`<step>/<Id>/<name>` (or `<step>/<Id>` without a name). Downloads are streamed to a `.part` file
and renamed when complete, several at once; a file already there is kept, so an extract resumed
after a crash downloads only what it had not finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from migrator.client.http import ApiSession

CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"


def _safe(path: str) -> bool:
    pure = PurePosixPath(path.replace("\\", "/"))
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and ":" not in path \
        and not path.endswith("/") and not path.endswith(PART_SUFFIX)


@dataclass
class FilePaths:
    """Gives each record of one step a path of its own for each binary column, page by page, and
    keeps (record Id, binary field, path) for the downloads."""

    step: str
    binaries: tuple[tuple[str, str], ...]
    seen: set[str] = field(default_factory=set)
    wanted: list[tuple[str, str, str]] = field(default_factory=list)

    def fix(self, frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
        ids = frame[id_column].astype(str)
        for column, binary in self.binaries:
            given = frame[column].astype(str).str.replace("\\", "/", regex=False)
            names = given.str.rsplit("/", n=1).str[-1]
            fallback = (self.step + "/" + ids + "/" + names).where(names.map(_safe), self.step + "/" + ids)
            paths = given.where(given.map(_safe) & ~given.duplicated() & ~given.isin(self.seen), fallback)
            self.seen.update(paths.tolist())
            frame = frame.assign(**{column: paths.to_numpy()})
            self.wanted += [(i, binary, p) for i, p in zip(ids.tolist(), paths.tolist(), strict=True)]
        return frame


@dataclass(frozen=True)
class Downloaded:
    """How one step's files ended: downloaded now, already there (a resumed extract), in bytes."""

    downloaded: int
    kept: int
    bytes: int


def _fetch(session: ApiSession, object_name: str, record_id: str, binary: str, target: Path) -> int:
    if target.is_file():
        return -1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PART_SUFFIX)
    size = 0
    with session.request("GET", f"sobjects/{object_name}/{record_id}/{binary}", stream=True) as response, \
            open(partial, "wb") as out:
        for block in response.iter_content(CHUNK_BYTES):
            out.write(block)
            size += len(block)
    os.replace(partial, target)
    return size


def download_files(session: ApiSession, object_name: str, wanted: Iterable[tuple[str, str, str]], files_dir: Path,
             workers: int) -> Downloaded:
    """Every (Id, field, path) of `wanted` into `files_dir`, `workers` at a time."""
    items = list(wanted)

    def one(item: tuple[str, str, str]) -> int:
        record_id, binary, path = item
        return _fetch(session, object_name, record_id, binary, files_dir / path)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="extract-files") as pool:
        sizes = list(pool.map(one, items))
    return Downloaded(downloaded=sum(1 for s in sizes if s >= 0), kept=sum(1 for s in sizes if s < 0),
                      bytes=sum(s for s in sizes if s > 0))


def fixed_frames(frames: Iterable[pd.DataFrame], paths: FilePaths | None, id_column: str) -> Iterator[pd.DataFrame]:
    for frame in frames:
        yield frame if paths is None else paths.fix(frame, id_column)
