"""The target's current records for a set of keys: what a prediction and a changed-only load compare with.

Two ways to ask, chosen by cost: Bulk API 2.0 queries with the keys in IN lists (each list sized to
the SOQL length limit), or one key-only extract of the whole object filtered here. A query job
costs about as much as reading `JOB_COST_ROWS` records, so for N keys in k IN-list queries over an
object of M records, the IN lists win when ``k * JOB_COST_ROWS + N < JOB_COST_ROWS + M``. Several
IN-list queries run at once. Pages are read as text with pyarrow and only the matching records
are kept, so memory follows the keys asked for, not the object's size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import SOQL_MAX_CHARS, QueryTiming, in_lists, run_query
from migrator.client.rest import RestClient

JOB_COST_ROWS = 50_000
PARALLEL_QUERIES = 4
TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


@dataclass(frozen=True)
class Fetch:
    """What to read: `columns` (SOQL field paths, the key first) of `object` where `key` is in `keys`.
    `case_sensitive` keys match exactly; others (external ids) ignore case, as Salesforce does.
    `stamp` is the object's SystemModstamp field (None: the object has none, and nothing read of it
    is kept), `types` the describe type of each column (a kept column whose type changed is void)."""

    object: str
    key: str
    columns: tuple[str, ...]
    keys: Sequence[str] | pd.Series
    case_sensitive: bool = False
    stamp: str | None = None
    types: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Fetched:
    """The records found (text columns named as in `Fetch.columns`, plus `__match`, the key folded
    for matching), and how they were asked for."""

    records: pd.DataFrame
    strategy: str  # "in-lists" or "extract"
    queries: int


TEXT = pa.large_string()


def text(values: pd.Series | pa.Array | np.ndarray) -> pa.Array:
    """Values as an Arrow (large) string array, '' for nulls; zero-copy for Arrow-backed Series."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values
    elif isinstance(values, pd.Series):
        array = pa.array(values) if isinstance(values.dtype, pd.StringDtype | pd.ArrowDtype) else pa.array(
            values.to_numpy(dtype=object, na_value=""), TEXT)
    else:
        array = pa.array(values, TEXT)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != TEXT:
        array = pc.cast(array, TEXT)
    return pc.fill_null(array, "")


def unique_keys(keys: Sequence[str] | pd.Series) -> pd.Series:
    """The distinct non-empty keys, in their first order, as Arrow-backed text (no Python per key)."""
    values = text(keys if isinstance(keys, pd.Series) else pd.Series(list(keys), dtype=TEXT_DTYPE))
    return pd.Series(pc.unique(values.filter(pc.not_equal(values, ""))).cast(pa.string()), dtype=TEXT_DTYPE)


def id18(ids: pd.Series) -> pd.Series:
    """15-character Salesforce Ids with their 3-character checksum suffix (18-character ones unchanged)."""
    short = ids.str.len() == 15
    if not short.any():
        return ids
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    values = ids[short]
    suffix = pd.Series("", index=values.index, dtype="str")
    for block in range(3):
        bits = sum(values.str.slice(block * 5 + i, block * 5 + i + 1).str.isupper().astype(int) * (1 << i)
                   for i in range(5))
        suffix = suffix + bits.map(lambda n: alphabet[n])
    return ids.mask(short, values + suffix)


def fold(keys: pd.Series, key: str, case_sensitive: bool) -> pd.Series:
    """Keys as they are matched: Ids in their 18-character form, other keys ignoring case unless the
    field is case-sensitive."""
    if key.lower() == "id":
        return id18(keys)
    return keys if case_sensitive else keys.str.lower()


def read_page(data: bytes) -> pd.DataFrame:
    """One Bulk query results page as text columns ('' for empty values)."""
    if not data.strip():
        return pd.DataFrame()
    end = data.find(b"\n")
    names = next(csv.reader([data[: end if end >= 0 else len(data)].decode("utf-8-sig").rstrip("\r")]))
    table = pacsv.read_csv(io.BytesIO(data), parse_options=pacsv.ParseOptions(newlines_in_values=True),
                           convert_options=pacsv.ConvertOptions(
                               column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                               quoted_strings_can_be_null=False))
    return table.to_pandas(types_mapper={pa.string(): TEXT_DTYPE}.get)


class KeptRecords(Protocol):
    """Records kept from earlier reads (`record_cache.RecordCache`): answers a fetch from what is
    still current and reads the rest with `read`."""

    def fetch(self, wanted: Fetch, read: Callable[[Fetch], Fetched]) -> Fetched: ...

    def save(self) -> None: ...


class CurrentRecords:
    """Reads current records from one org, remembering object sizes for the strategy choice; with
    `kept`, through the records kept from earlier reads (see `record_cache`)."""

    def __init__(self, bulk: Bulk2Client, rest: RestClient, timing: QueryTiming,
                 on_query: Callable[[str], None] | None = None, kept: KeptRecords | None = None):
        self.bulk, self.rest, self.timing = bulk, rest, timing
        self.on_query = on_query or (lambda soql: None)
        self.sizes: dict[str, int] = {}
        self.queries = 0
        self.kept = kept

    def save(self) -> None:
        """Keep what was read for the next comparison (nothing without `kept`)."""
        if self.kept is not None:
            self.kept.save()

    def size(self, object_name: str) -> int:
        if object_name not in self.sizes:
            self.sizes[object_name] = self.rest.count(object_name)
        return self.sizes[object_name]

    def _pages(self, soql: str) -> list[pd.DataFrame]:
        self.on_query(soql)
        self.queries += 1
        return [read_page(data) for data in run_query(self.bulk, soql, self.timing)]

    def fetch(self, wanted: Fetch) -> Fetched:
        if self.kept is not None and wanted.stamp is not None:
            return self.kept.fetch(wanted, self._read)
        return self._read(wanted)

    def _read(self, wanted: Fetch) -> Fetched:
        keys = unique_keys(wanted.keys)
        folded = fold(keys, wanted.key, wanted.case_sensitive)
        select = f"SELECT {', '.join(wanted.columns)} FROM {wanted.object}"
        empty = pd.DataFrame({c: pd.Series(dtype="str") for c in (*wanted.columns, "__match")})
        if keys.empty:
            return Fetched(empty, "none", 0)
        budget = SOQL_MAX_CHARS - len(select) - len(wanted.key) - 20
        # each key costs its length, two quotes and a comma (plus an escape per quote or backslash)
        chars = int(keys.str.len().sum()) + 3 * len(keys) + int(keys.str.count(r"['\\]").sum())
        estimate = -(-chars // budget)
        use_lists = estimate * JOB_COST_ROWS + len(keys) < JOB_COST_ROWS + self.size(wanted.object)
        if use_lists:
            lists = list(in_lists(keys.tolist(), budget))
            statements = [f"{select} WHERE {wanted.key} IN ({','.join(group)})" for group in lists]
            with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES) as pool:
                pages = [p for result in pool.map(self._pages, statements) for p in result]
        else:
            pages = self._pages(select)
        wanted_keys = text(folded)
        kept = []
        for page in pages:
            if page.empty:
                continue
            match = fold(page[wanted.key].astype("str"), wanted.key, wanted.case_sensitive)
            page = page.assign(__match=match)
            if not use_lists:  # an extract: keep the records of the keys asked for
                asked = pc.is_in(text(match), value_set=wanted_keys)
                page = page[asked.to_numpy(zero_copy_only=False)]
            kept.append(page)
        records = pd.concat(kept, ignore_index=True) if kept else empty
        return Fetched(records, "in-lists" if use_lists else "extract", len(statements) if use_lists else 1)
