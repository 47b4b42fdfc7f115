"""Finding records by a key field (external id, idLookup, unique field) for a whole batch at once.

Two strategies behind one interface. For small jobs, one SQL query per batch joins the batch's
distinct keys (passed as one JSON array) with the indexed column. For big jobs that probe the same
table hundreds of times, a hash index is built from one scan of the table and then kept in step with
the job's own writes; a probe is then a dict lookup instead of a B-tree descent per key, which is
what makes million-row upserts with relationship columns fast. Only the single DML worker writes
record tables, so an index built during a job cannot be changed behind its back.

Keys are folded like SQLite's NOCASE collation (ASCII letters only) unless the field is case
sensitive, so both strategies agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from .orgschema import FieldDef, ObjectDef
from .store import sql_name

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
TEXT_KEY_TYPES = frozenset({"string", "email", "phone", "url", "picklist", "combobox", "textarea"})


def fold(value: str) -> str:
    """ASCII-only lower case, exactly SQLite's NOCASE (str.lower is the fast path for ASCII)."""
    return value.lower() if value.isascii() else value.translate(_ASCII_LOWER)


def folder(f: FieldDef):
    """The key-folding function for field `f` (identity for case-sensitive and non-text keys)."""
    if f.case_sensitive or f.type not in TEXT_KEY_TYPES:
        return str
    return fold


class KeyIndex:
    """Live (not deleted) records of `obj` by the value of `key`: folded key -> list of Ids."""

    def __init__(self, obj: ObjectDef, key: FieldDef, in_memory: bool):
        self.obj = obj
        self.key = key
        self.fold = folder(key)
        self.in_memory = in_memory and key.type in TEXT_KEY_TYPES
        self._map: dict[str, str | list[str]] | None = None
        self._several = False  # whether `_map` may hold a key of several records (a list)
        self.invalidations = 0

    @classmethod
    def for_job(cls, conn: sqlite3.Connection, obj: ObjectDef, key: FieldDef, job_rows: int,
                threshold: int) -> KeyIndex:
        """In memory when the job is big and the table not much bigger: loading costs ~1 us per record,
        one probe of the SQLite index ~4 us per key."""
        if job_rows < threshold or key.type not in TEXT_KEY_TYPES:
            return cls(obj, key, in_memory=False)
        records = conn.execute(f"SELECT count(*) FROM {sql_name(obj.name)}").fetchone()[0]
        return cls(obj, key, in_memory=records <= 3 * job_rows)

    def lookup(self, conn: sqlite3.Connection, keys: list[str]) -> list[str | list[str] | None]:
        """For each folded key (keys distinct): its record's Id, a list when several match, or None."""
        if self.in_memory:
            return list(map(self._load(conn).get, keys))
        found = self.find(conn, keys)
        return [None if (ids := found.get(k)) is None else ids[0] if len(ids) == 1 else ids for k in keys]

    @property
    def loaded(self) -> bool:
        """Whether the index holds keys in memory (only then must writes keep it current)."""
        return self._map is not None

    def probe(self, conn: sqlite3.Connection, keys: list[str]) -> tuple[np.ndarray, dict[int, list[str]]]:
        """`lookup` shaped for a batch: per key its single record's Id or None (object array), and the
        positions of keys naming several records with their Ids. The in-memory map rarely holds such
        keys, so the usual probe is one C-level pass with no Python loop over the results."""
        hits = self.lookup(conn, keys)
        several: dict[int, list[str]] = {}
        if self._several or not self.in_memory:
            several = {position: hit for position, hit in enumerate(hits) if type(hit) is list}
            if several:
                hits = [None if type(hit) is list else hit for hit in hits]
        ids = np.empty(len(hits), dtype=object)
        ids[:] = hits
        return ids, several

    def find(self, conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, list[str]]:
        """Ids per folded key for the given folded keys (keys without a record are absent)."""
        keys = list(keys)
        if not keys:
            return {}
        if self.in_memory:
            mapping = self._load(conn)
            found: dict[str, list[str]] = {}
            for k in keys:
                hit = mapping.get(k)
                if hit is not None:
                    found[k] = [hit] if isinstance(hit, str) else hit
            return found
        table, column = sql_name(self.obj.name), sql_name(self.key.name)
        rows = conn.execute(
            f"SELECT t.{column}, t.\"Id\" FROM json_each(?) AS j JOIN {table} AS t ON t.{column} = j.value "
            f"WHERE t.\"IsDeleted\" = 0", (json.dumps(keys),)).fetchall()
        result: dict[str, list[str]] = {}
        for value, record_id in rows:
            ids = result.setdefault(self.fold(str(value)), [])
            if record_id not in ids:
                ids.append(record_id)
        return result

    def _load(self, conn: sqlite3.Connection) -> dict[str, str | list[str]]:
        if self._map is None:
            pairs = self._pairs(conn)
            mapping: dict[str, str | list[str]] = dict(zip(pairs[0::2], pairs[1::2], strict=True))
            if 2 * len(mapping) != len(pairs):  # some key names several records: keep them all
                mapping = {}
                self._several = True
                for value, record_id in zip(pairs[0::2], pairs[1::2], strict=True):
                    self._put(mapping, value, record_id)
            self._map = mapping
        return self._map

    def _pairs(self, conn: sqlite3.Connection) -> list[str]:
        """key, Id, key, Id, ... of every live record with a key, folded by SQLite's lower() (ASCII only:
        exactly NOCASE). Fetched as one string and split, which is much cheaper than a million tuples."""
        column = sql_name(self.key.name)
        folded = f"lower({column})" if self.fold is not str else column
        source = f'FROM {sql_name(self.obj.name)} WHERE "IsDeleted" = 0 AND {column} IS NOT NULL'
        count, text = conn.execute(f"SELECT count(*), group_concat({folded} || char(31) || \"Id\", char(31)) "
                                   f"{source}").fetchone()
        pairs = text.split("\x1f") if text else []
        if len(pairs) == 2 * count:
            return pairs
        rows = conn.execute(f'SELECT {folded}, "Id" {source}').fetchall()  # a key contains the separator
        return [value for row in rows for value in row]

    def _put(self, mapping: dict[str, str | list[str]], key: str, record_id: str) -> None:
        hit = mapping.get(key)
        if hit is None:
            mapping[key] = record_id
        elif isinstance(hit, str):
            if hit != record_id:
                mapping[key] = [hit, record_id]
                self._several = True
        elif record_id not in hit:
            hit.append(record_id)

    def added(self, keys: list[str | None], ids: list[str], known_new: bool = False) -> None:
        """Records the job just inserted (folded keys, None for no key); keeps an in-memory index current.

        `known_new`: the caller has just probed this index for these keys and found none, and they are
        distinct and not None (an upsert's inserts), so they go in without checking again.
        """
        if self._map is None:
            return
        mapping = self._map
        if known_new:
            mapping.update(zip(keys, ids, strict=True))  # type: ignore[arg-type]
            return
        fresh = dict(zip(keys, ids, strict=True))
        if len(fresh) == len(keys) and None not in fresh and fresh.keys().isdisjoint(mapping.keys()):
            mapping.update(fresh)  # the usual case: new keys, each once
            return
        for key, record_id in zip(keys, ids, strict=True):
            if key is not None:
                self._put(mapping, key, record_id)

    def invalidate(self) -> None:
        """The job changed keys in ways the index cannot follow (updates of the key, deletes)."""
        self._map = None
        self._several = False
        self.invalidations += 1


class KeyIndexCache:
    """In-memory indexes kept from one job to the next, least recently used first out.

    Sound because the DML worker is the only writer of record tables and every write goes through
    `KeyIndexes.of_object` (inserts add their keys, key updates and deletes drop the index).
    """

    def __init__(self, max_entries: int = 3_000_000):
        self.max_entries = max_entries
        self._indexes: OrderedDict[tuple[str, str], KeyIndex] = OrderedDict()

    def get(self, slot: tuple[str, str]) -> KeyIndex | None:
        index = self._indexes.get(slot)
        if index is None or index._map is None:
            return None
        self._indexes.move_to_end(slot)
        return index

    def put(self, index: KeyIndex) -> None:
        self._indexes[(index.obj.name, index.key.name)] = index

    def of_object(self, name: str) -> list[KeyIndex]:
        return [index for (obj, _), index in self._indexes.items() if obj == name]

    def trim(self) -> None:
        """Forget unloaded indexes, then the least recently used until under `max_entries` keys."""
        for slot in [slot for slot, index in self._indexes.items() if index._map is None]:
            del self._indexes[slot]
        while self._indexes and sum(len(i._map or ()) for i in self._indexes.values()) > self.max_entries:
            self._indexes.popitem(last=False)

    def clear(self) -> None:
        self._indexes.clear()


class KeyIndexes:
    """The key indexes one job uses, created on first use (see KeyIndex.for_job) or taken from `cache`."""

    def __init__(self, conn: sqlite3.Connection, job_rows: int = 0, threshold: int = 50_000,
                 cache: KeyIndexCache | None = None):
        self.conn = conn
        self.job_rows = job_rows
        self.threshold = threshold
        self.cache = cache
        self._indexes: dict[tuple[str, str], KeyIndex] = {}

    def get(self, obj: ObjectDef, key: FieldDef) -> KeyIndex:
        slot = (obj.name, key.name)
        index = self._indexes.get(slot)
        if index is None:
            index = self.cache.get(slot) if self.cache is not None else None
            if index is None:
                index = KeyIndex.for_job(self.conn, obj, key, self.job_rows, self.threshold)
                if index.in_memory and self.cache is not None:
                    self.cache.put(index)
            self._indexes[slot] = index
        return index

    def of_object(self, obj: ObjectDef) -> list[KeyIndex]:
        """Every index of `obj` a write must keep current: this job's and the cached ones."""
        found = {id(i): i for (name, _), i in self._indexes.items() if name == obj.name}
        if self.cache is not None:
            found.update({id(i): i for i in self.cache.of_object(obj.name)})
        return list(found.values())

    @property
    def invalidations(self) -> int:
        """How often an index had to be dropped (then only the database knows the current keys)."""
        return sum(index.invalidations for index in self._indexes.values())
