"""The SQL that applies a validated batch, as statements that can run here or in the writer process.

A Statement is SQL plus its parameters column by column (cheap to send to another process);
applying a batch is one transaction. Values that are the same for every row (audit stamps, the
running user, defaults of fields the header does not set) go into the SQL as literals, so each row
binds only what varies. An update sets a column only on rows whose cell was not empty
(``SET c = IIF(?, ?, c)``), or unconditionally when every row has a value.

Rows are written several per SQL statement (``INSERT ... VALUES (...), (...)``, ``UPDATE ... FROM
(VALUES ...)``, ``DELETE ... WHERE Id IN (...)``): Python's ``executemany`` costs about a
microsecond per execution on top of SQLite's own work, as much as SQLite needs to insert a row, so
one execution per row was half of the writer's time. A statement carries its multi-row form as
`head` + rows + `tail`; without one (DDL, hand-written SQL) it runs one row per execution.

This module uses the standard library only: the writer process imports it and nothing heavier.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

MAX_ROWS_PER_EXECUTION = 50  # the gain flattens out well before this
MAX_PARAMETERS = 999  # SQLite's historical SQLITE_MAX_VARIABLE_NUMBER: safe with any build
UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)  # UPDATE ... FROM arrived in 3.33


@dataclass(frozen=True)
class Statement:
    sql: str  # one row's statement (parameters in `columns` order)
    columns: tuple[list[object], ...]  # parameter columns, all the same length (one entry per row)
    head: str | None = None  # multi-row form: head + ", ".join([row] * n) + tail
    row: str | None = None
    tail: str = ""

    def rows_per_execution(self) -> int:
        if self.head is None or not self.columns:
            return 1
        return max(1, min(MAX_ROWS_PER_EXECUTION, MAX_PARAMETERS // len(self.columns)))

    def multi_row_sql(self, rows: int) -> str:
        assert self.head is not None and self.row is not None
        return self.head + ", ".join([self.row] * rows) + self.tail


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_value(value: object) -> str:
    """A constant as SQL text (only for values the server produced or the schema declares)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert_statement(table: str, ids: list[str], columns: Mapping[str, list[object]],
                     constants: Mapping[str, object]) -> Statement:
    """INSERT `ids` with per-row `columns` and the same `constants` on every row."""
    names = ["Id", *columns]
    const_names = [name for name in constants if name not in columns]
    head = f"INSERT INTO {quote_name(table)} ({', '.join(map(quote_name, names + const_names))}) VALUES "
    row = f"({', '.join(['?'] * len(names) + [sql_value(constants[n]) for n in const_names])})"
    return Statement(head + row, (ids, *columns.values()), head, row)


def update_statement(table: str, ids: list[str], columns: Mapping[str, tuple[list[object], list[bool] | None]],
                     constants: Mapping[str, object]) -> Statement:
    """UPDATE `ids`: each column is (values, set_flags); flags None means "set on every row".

    The multi-row form needs distinct Ids (a record joined twice would take one of its rows, not
    the last); the engine refuses repeated Ids and keys, and repeated Ids fall back to one per row.
    """
    single: list[str] = []
    joined: list[str] = []
    params: list[list[object]] = []
    for name, (values, flags) in columns.items():
        column = quote_name(name)
        if flags is None:
            single.append(f"{column} = ?")
            joined.append(f"{column} = v.column{len(params) + 1}")
            params.append(values)
        else:
            single.append(f"{column} = IIF(?, ?, {column})")
            joined.append(f"{column} = IIF(v.column{len(params) + 1}, v.column{len(params) + 2}, {column})")
            params.extend((list(flags), values))
    fixed = [f"{quote_name(name)} = {sql_value(value)}" for name, value in constants.items()]
    table_name = quote_name(table)
    sql = f'UPDATE {table_name} SET {", ".join(single + fixed)} WHERE "Id" = ?'
    if not UPDATE_FROM or len(set(ids)) != len(ids):
        return Statement(sql, (*params, ids))
    head = f"UPDATE {table_name} SET {', '.join(joined + fixed)} FROM (VALUES "
    tail = f') AS v WHERE {table_name}."Id" = v.column{len(params) + 1}'
    return Statement(sql, (*params, ids), head, f"({', '.join(['?'] * (len(params) + 1))})", tail)


def soft_delete_statement(table: str, ids: list[str], constants: Mapping[str, object]) -> Statement:
    """Move records to the recycle bin: IsDeleted = 1 (queryAll still sees them)."""
    return update_statement(table, ids, {}, {"IsDeleted": 1, **constants})


def hard_delete_statement(table: str, ids: list[str]) -> Statement:
    head = f'DELETE FROM {quote_name(table)} WHERE "Id" IN ('
    return Statement(f'DELETE FROM {quote_name(table)} WHERE "Id" = ?', (ids,), head, "?", ")")


def execute(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """Run `statements` (inside the caller's transaction)."""
    for statement in statements:
        if not statement.columns:  # DDL, or SQL without parameters
            conn.execute(statement.sql)
        elif statement.columns[0]:
            _execute_rows(conn, statement)


def _execute_rows(conn: sqlite3.Connection, statement: Statement) -> None:
    count = len(statement.columns[0])
    per = statement.rows_per_execution()
    if per == 1 or count < 2 * per:
        conn.executemany(statement.sql, zip(*statement.columns, strict=True))
        return
    width = len(statement.columns)
    flat = list(chain.from_iterable(zip(*statement.columns, strict=True)))  # strict: equal-length columns
    step = per * width
    whole = count // per * step
    conn.executemany(statement.multi_row_sql(per), (flat[start:start + step] for start in range(0, whole, step)))
    if whole < len(flat):
        conn.execute(statement.multi_row_sql((len(flat) - whole) // width), flat[whole:])


def apply(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """Run `statements` in one transaction of their own."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        execute(conn, statements)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
