"""ZIP batches (ZIP_CSV / ZIP_XML / ZIP_JSON jobs): ``request.txt`` plus the binary files it names.

The manifest at the zip's root is a CSV, XML or JSON batch (by the job's type) whose binary fields
(Attachment and Document ``Body``, ContentVersion ``VersionData``) hold ``#path/in/zip`` references
(reference §6.10). The zip is read in memory with limits on the number of entries and the unzipped
size, checked both on the declared sizes and while reading (a zip can lie about its sizes), so a
zip bomb costs at most the limit. Nothing is ever written to disk under a name from the zip.

Limits (Salesforce documents only the 10 MB zip size; the rest are the local org's choice, reference
§3.4 "unconfirmed"): at most 1,000 entries and 20,000,000 bytes unzipped.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from dataclasses import dataclass

from .bulk1_records import BatchInputError

REQUEST_FILE = "request.txt"


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 1_000
    max_unzipped_bytes: int = 20_000_000


class MissingBinary(LookupError):
    """A ``#`` reference that names no file of the zip (or is not a ``#`` reference)."""


class ZipBatch:
    """An opened ZIP batch: the manifest bytes and lazy access to the files it references."""

    def __init__(self, data: bytes, limits: ZipLimits):
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            entries = [info for info in self._zip.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise BatchInputError(f"InvalidBatch : Failed to read the zip file: {exc}") from None
        if len(entries) > limits.max_entries:
            raise BatchInputError(f"InvalidBatch : The zip file has {len(entries):,} files; a batch takes at most "
                                  f"{limits.max_entries:,}")
        if sum(info.file_size for info in entries) > limits.max_unzipped_bytes:
            raise BatchInputError(f"InvalidBatch : The zip file unzips to more than "
                                  f"{limits.max_unzipped_bytes:,} bytes")
        self._limits = limits
        self._entries = {_normalise(info.filename): info for info in entries}
        self._read = 0
        self._cache: dict[str, bytes] = {}
        manifest = self._entries.get(REQUEST_FILE)
        if manifest is None:
            raise BatchInputError(f"InvalidBatch : The zip file has no {REQUEST_FILE} at its root")
        self.request = self._bytes(manifest)

    def _bytes(self, info: zipfile.ZipInfo) -> bytes:
        budget = self._limits.max_unzipped_bytes - self._read
        try:
            with self._zip.open(info) as handle:
                data = handle.read(budget + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError,
                zlib.error) as exc:
            raise BatchInputError(f"InvalidBatch : Failed to read {info.filename} from the zip file: {exc}") from None
        if len(data) > budget:
            raise BatchInputError(f"InvalidBatch : The zip file unzips to more than "
                                  f"{self._limits.max_unzipped_bytes:,} bytes")
        self._read += len(data)
        return data

    def binary(self, reference: str) -> bytes:
        """The content of ``#path/in/zip``; MissingBinary when there is no such file."""
        if not reference.startswith("#"):
            raise MissingBinary(f"{reference} is not a reference to a file of the zip (it must start with #)")
        name = _normalise(reference[1:])
        info = self._entries.get(name)
        if info is None or name == REQUEST_FILE:
            raise MissingBinary(f"{reference} names no file of the zip")
        if name not in self._cache:
            self._cache[name] = self._bytes(info)
        return self._cache[name]


def _normalise(name: str) -> str:
    """Zip member names and references compared as relative POSIX paths (``./a\\b`` is ``a/b``)."""
    return posixpath.normpath(name.replace("\\", "/").lstrip("/")).removeprefix("./")
