"""The target's records as last read, kept per org: what makes the next comparison cheap and still exact.

A prediction or a changed-only load reads the current values of the fields a plan sets. Each such
read also brings back every record's Id and SystemModstamp, and is kept here: one Parquet file per
object under ``<home>/cache/records/<org id>/``. The next read of the object asks the org only for
the keys and SystemModstamp (phase 1). A record whose SystemModstamp is the one kept has not been
written since it was read, so the kept values *are* its values now; only the other records (edited
in the org, loaded by a run, new, or never read with these fields) are read in full (phase 2).

Why it is exact: every kept row comes from one read of one version of one record (its values and
its SystemModstamp in the same result row), and is used only while the org still reports that
SystemModstamp. An old row is therefore never wrong, only out of date, and then it is read again. No
row is ever made from what a run *sent*: Bulk API returns no SystemModstamp for a write, and reading
it afterwards races with whoever edits the record in between, whose change a row made that way would
hide. Values are kept rather than digests of them because a changed source row can then be compared
exactly without asking the org (a digest only says "not what was sent last time"). A field whose
describe type changed since is dropped from the cache (a type change rewrites no SystemModstamp).
Records asked for and no longer found (deleted, or their key changed) are dropped.

The cache is a file per object, written whole (atomic rename): two runs at once can only lose each
other's rows, never mix them. Deleting ``<home>/cache/records`` makes the next comparison read
everything again.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from migrator.check.current import TEXT_DTYPE, Fetch, Fetched, fold, text, unique_keys
from migrator.client.http import ApiSession
from migrator.client.identity import fetch_identity
from migrator.compile.files import atomic_write_bytes
from migrator.errors import MigratorError

FORMAT = 1
RECORDS_DIR = Path("cache") / "records"
_META = b"migrator.record_cache"


def cache_folder(home: Path, org_id: str) -> Path:
    return home / RECORDS_DIR / org_id


def org_cache(session: ApiSession, home: Path) -> RecordCache | None:
    """The kept records of the org `session` reaches, or None when the org does not say who it is
    (no userinfo): then every comparison reads everything, as without a cache."""
    try:
        identity = fetch_identity(session)
    except MigratorError:
        return None
    return RecordCache(cache_folder(home, identity.org_id))


@dataclass
class _Object:
    """One object's kept rows (text columns, null = not read with that version) and their types."""

    frame: pd.DataFrame
    types: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: bool = False


def _member(values: pd.Series, of: pd.Series) -> np.ndarray:
    """`values.isin(of)` in Arrow (pandas compares Arrow strings one by one in Python)."""
    return pc.is_in(text(values), value_set=text(of)).to_numpy(zero_copy_only=False) & values.notna().to_numpy()


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=TEXT_DTYPE) for c in columns})


class RecordCache:
    """The kept records of one org, read lazily per object and written back by `save`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._objects: dict[str, _Object] = {}
        self._lock = threading.Lock()

    def _path(self, object_name: str) -> Path:
        return self.folder / f"{object_name}.parquet"

    def _object(self, object_name: str) -> _Object:
        with self._lock:
            found = self._objects.get(object_name)
            if found is None:
                found = self._objects[object_name] = self._load(object_name)
            return found

    def _load(self, object_name: str) -> _Object:
        path = self._path(object_name)
        try:
            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
        except (OSError, ValueError, pa.ArrowException):  # none yet, or unreadable: start afresh
            return _Object(_empty(("Id",)), {})
        if meta.get("format") != FORMAT or "Id" not in table.column_names:
            return _Object(_empty(("Id",)), {})
        frame = table.to_pandas(types_mapper={pa.string(): TEXT_DTYPE, pa.large_string(): TEXT_DTYPE}.get)
        return _Object(frame.reset_index(drop=True), {str(k): str(v) for k, v in (meta.get("types") or {}).items()})

    def save(self) -> None:
        """Write back every object whose kept rows changed."""
        for name, kept in list(self._objects.items()):
            with kept.lock:
                if not kept.changed:
                    continue
                table = pa.Table.from_pandas(kept.frame, preserve_index=False)
                table = table.replace_schema_metadata({_META: json.dumps({"format": FORMAT, "object": name,
                                                                          "types": kept.types}).encode()})
                sink = io.BytesIO()
                pq.write_table(table, sink, compression="zstd")
                atomic_write_bytes(self._path(name), sink.getbuffer())
                kept.changed = False

    def fetch(self, wanted: Fetch, read: Callable[[Fetch], Fetched]) -> Fetched:
        """`wanted`'s records, from the kept rows where the org's SystemModstamp says they are current
        and from `read` (the org) for the rest; what was read is kept."""
        assert wanted.stamp is not None
        kept = self._object(wanted.object)
        with kept.lock:
            return self._fetch(kept, wanted, read)

    def _fetch(self, kept: _Object, wanted: Fetch, read: Callable[[Fetch], Fetched]) -> Fetched:
        stamp = wanted.stamp
        assert stamp is not None
        types = {**dict(wanted.types), "Id": "id", stamp: "datetime"}
        for column, kind in types.items():  # a field whose type changed: what was kept of it is void
            if column in kept.frame and kept.types.get(column, kind) != kind:
                kept.frame = kept.frame.drop(columns=[column])
        full = tuple(dict.fromkeys((*wanted.columns, "Id", stamp)))
        asked = unique_keys(wanted.keys)
        complete = kept.frame.reindex(columns=list(full)).notna().all(axis=1).to_numpy()
        if not complete.any() or int(complete.sum()) * 2 < len(asked):  # too little kept: read it all at once
            fetched = read(replace(wanted, columns=full))
            found = fetched.records
            gone = _missing(asked, found, wanted)
            _keep(kept, found[list(full)], _rows_of(kept, wanted, gone) | _member(kept.frame["Id"], found["Id"]),
                  full, types)
            return Fetched(found[[*wanted.columns, "__match"]], fetched.strategy, fetched.queries)
        first = read(replace(wanted, columns=(wanted.key, stamp)))
        now = first.records
        keys_kept = fold(kept.frame[wanted.key].fillna("").astype(TEXT_DTYPE), wanted.key, wanted.case_sensitive)
        # each record the org has for the keys: where it is kept, and whether the kept row is its version now
        at = pc.index_in(text(now["__match"]), value_set=text(keys_kept.where(pd.Series(complete), "")))
        position = at.to_numpy(zero_copy_only=False)
        found_kept = at.is_valid().to_numpy(zero_copy_only=False)
        same = np.zeros(len(now), dtype=bool)
        if found_kept.any():
            spots = position[found_kept].astype(np.int64)
            same[found_kept] = (text(now[stamp]).filter(pa.array(found_kept)).to_numpy(zero_copy_only=False) ==
                                text(kept.frame[stamp]).take(pa.array(spots)).to_numpy(zero_copy_only=False))
        same &= ~now["__match"].duplicated(keep=False).to_numpy()  # a key two records share is read in full
        need = now.loc[~same, wanted.key]
        second = read(replace(wanted, columns=full, keys=need)) if len(need) else None
        from_kept = kept.frame.iloc[position[same].astype(np.int64)][list(full)].reset_index(drop=True)
        from_kept["__match"] = now["__match"].to_numpy()[same]
        fresh = second.records if second is not None else _empty((*full, "__match"))
        records = pd.concat([from_kept, fresh[[*full, "__match"]]], ignore_index=True) if len(fresh) else from_kept
        gone = _missing(asked, now, wanted)
        if len(fresh) or len(gone):
            replaced = _rows_of(kept, wanted, gone)
            replaced[position[found_kept & ~same].astype(np.int64)] = True
            _keep(kept, fresh[list(full)], replaced | _member(kept.frame["Id"], fresh["Id"]), full, types)
        queries = first.queries + (second.queries if second is not None else 0)
        return Fetched(records[[*wanted.columns, "__match"]], "cache+" + first.strategy, queries)


def _missing(asked: pd.Series, found: pd.DataFrame, wanted: Fetch) -> pd.Series:
    """The folded keys asked for that the org no longer has (deleted, or their key changed)."""
    folded = text(fold(asked, wanted.key, wanted.case_sensitive))
    absent = pc.invert(pc.is_in(folded, value_set=text(found["__match"])))
    return pd.Series(folded.filter(absent), dtype=pd.ArrowDtype(pa.large_string()))


def _rows_of(kept: _Object, wanted: Fetch, folded_keys: pd.Series) -> np.ndarray:
    """Which kept rows hold one of `folded_keys` in the key field."""
    if not len(folded_keys) or wanted.key not in kept.frame:
        return np.zeros(len(kept.frame), dtype=bool)
    keys_kept = fold(kept.frame[wanted.key].fillna("").astype(TEXT_DTYPE), wanted.key, wanted.case_sensitive)
    return _member(keys_kept, folded_keys)


def _keep(kept: _Object, found: pd.DataFrame, replaced: np.ndarray, columns: tuple[str, ...],
          types: dict[str, str]) -> None:
    """Keep the records `found` (each row whole, from one read: fields it was not read with are
    null), dropping the `replaced` rows: the older versions and the records no longer found."""
    rest = kept.frame[~replaced]
    found = found.astype(TEXT_DTYPE)
    merged = pd.concat([rest, found], ignore_index=True) if len(rest) else found.reset_index(drop=True)
    for column in merged.columns:
        if merged[column].dtype != TEXT_DTYPE:
            merged[column] = merged[column].astype(TEXT_DTYPE)
    kept.frame = merged
    kept.types.update({c: types.get(c, "") for c in columns})
    kept.changed = True
