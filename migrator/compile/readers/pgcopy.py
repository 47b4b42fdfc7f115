"""PostgreSQL sources read with COPY: the server writes CSV, Arrow's CSV engine reads it.

The generic SQL path (`readers.sql`) has the driver build a Python object per value, then Arrow
columns from them: about five times slower than reading the same rows from a CSV file. On
PostgreSQL through psycopg, the reader instead streams `COPY (SELECT ...) TO STDOUT (FORMAT csv)`
through the driver's copy API (the connection SQLAlchemy opened, with the same credentials) into
`pyarrow.csv`, in blocks of the planner's size, so memory stays flat and no Python object is made
per value.

The text must be the generic path's, value for value (the same plan gives the same parts whatever
its data sits in), so each column type gets a rule, applied in the SELECT where PostgreSQL's own
text differs:

| type | generic path | COPY rule |
|---|---|---|
| text, varchar, char, integers, uuid | as PostgreSQL writes it | as it is |
| numeric(p, s) | scale kept: `1200.50` | as it is |
| boolean | `true` / `false` | `c::text` (not COPY's `t` / `f`) |
| date | `2024-01-31` | as it is, with `DateStyle` ISO |
| timestamp | `2024-01-31T10:30:00.5` | `replace(c::text, ' ', 'T')` |
| timestamptz | in UTC with `Z` | `replace((c AT TIME ZONE 'UTC')::text, ' ', 'T') \\|\\| 'Z'` |
| time | `10:30:00.500000` | `to_char(c, 'HH24:MI:SS.US')` |
| float8, real | shortest exact, no exponent | exponents expanded in Arrow |
| bytea | base64 | `encode(c, 'base64')` without its line breaks |

NULL and an empty string both read as a blank, as on the generic path. A result with a column of
any other type (json, arrays, intervals, enums, ...) or with two columns of one name is read by
the generic path, whose Python conversions cover them.

COPY reads a query through a subquery when a rule applies; PostgreSQL keeps the subquery's
ORDER BY for such a plain projection, so rows come in the order the query (or the table's key) says.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql

from migrator.compile.readers.text import plain_decimal_text

# PostgreSQL's type OIDs (pg_type.oid; fixed for built-in types)
# int8, int2, int4, text, oid, name, char(n), varchar, uuid, numeric, date: their text is the driver path's
_AS_IS = {20, 21, 23, 25, 26, 19, 1042, 1043, 2950, 1700, 1082}
_BOOL, _BYTEA, _FLOAT4, _FLOAT8, _TIME, _TIMESTAMP, _TIMESTAMPTZ = 16, 17, 700, 701, 1083, 1114, 1184
_FLOATS = {_FLOAT4, _FLOAT8}
_RULES: dict[int, str] = {
    _BOOL: "{c}::text",
    _BYTEA: "translate(encode({c}, 'base64'), E'\\n', '')",
    _TIME: "to_char({c}, 'HH24:MI:SS.US')",
    _TIMESTAMP: "replace({c}::text, ' ', 'T')",
    _TIMESTAMPTZ: "replace(({c} AT TIME ZONE 'UTC')::text, ' ', 'T') || 'Z'",
}
_FLOAT_WORDS = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}  # as Arrow writes a Python float
# what a session must say for the rules above: ISO dates, shortest exact floats, UTF-8 bytes
SESSION = ("SET DateStyle TO ISO, YMD", "SET extra_float_digits TO 1", "SET client_encoding TO 'UTF8'")


def describe(connection: psycopg.Connection, select: sql.Composable) -> list[tuple[str, int]]:
    """The (name, type OID) of each column of `select`, planned but not run (LIMIT 0)."""
    for statement in SESSION:
        connection.execute(statement)
    cursor = connection.execute(sql.SQL("SELECT * FROM ({}) AS migrator_probe LIMIT 0").format(select))
    return [(column.name, column.type_code) for column in cursor.description or ()]


@dataclass(frozen=True)
class CopyPlan:
    """The COPY statement for a result, and which of its columns are floats (fixed in Arrow)."""

    statement: sql.Composable
    names: tuple[str, ...]
    floats: frozenset[str]


def copy_plan(select: sql.Composable, described: Sequence[tuple[str, int]]) -> CopyPlan | None:
    """The COPY for `select`, whose columns are `described` as (name, type OID); None when a column
    has a type without a rule (or two columns share a name): the generic path reads those."""
    names = [name for name, _ in described]
    if len(set(names)) != len(names) or any(oid not in _AS_IS and oid not in _RULES and oid not in _FLOATS
                                            for _, oid in described):
        return None
    inner = select
    if any(oid in _RULES for _, oid in described):
        columns = [sql.SQL(_RULES[oid]).format(c=sql.Identifier("migrator_copy", name))
                   if oid in _RULES else sql.Identifier("migrator_copy", name) for name, oid in described]
        inner = sql.SQL("SELECT {} FROM ({}) AS migrator_copy").format(sql.SQL(", ").join(columns), inner)
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(inner)
    return CopyPlan(statement, tuple(names), frozenset(n for n, oid in described if oid in _FLOATS))


class _ChunkStream(io.RawIOBase):
    """The COPY's data chunks as a file Arrow's CSV reader reads from."""

    def __init__(self, chunks: Iterator[bytes | memoryview]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk).cast("B")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def read_copy(chunks: Iterator[bytes | memoryview], plan: CopyPlan, block_bytes: int) -> Iterator[pa.Table]:
    """The COPY's CSV as tables of text columns, a block at a time (floats as the generic path
    writes them)."""
    stream = io.BufferedReader(_ChunkStream(chunks), buffer_size=1 << 20)
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=list(plan.names), block_size=block_bytes, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in plan.names},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False))
    for batch in reader:
        table = pa.Table.from_batches([batch])
        for name in plan.floats:
            table = table.set_column(table.column_names.index(name), name,
                                     _float_text(table.column(name).combine_chunks()))
        yield table


def _float_text(text: pa.Array) -> pa.Array:
    for word, arrow in _FLOAT_WORDS.items():
        text = pc.if_else(pc.equal(text, word), arrow, text)
    return plain_decimal_text(text)


def copy_tables(connection: psycopg.Connection, plan: CopyPlan, block_bytes: int) -> Iterator[pa.Table]:
    """Run the COPY and read its rows as tables of text columns, a block at a time."""
    with connection.cursor() as cursor, cursor.copy(plan.statement) as copy:
        yield from read_copy(iter(copy), plan, block_bytes)
