"""The SQL that applies a validated batch, as statements that can run here or in the writer process.

A Statement is SQL plus its parameters column by column (cheap to send to another process);
applying a batch is one transaction running one executemany per statement. Values that are the same
for every row (audit stamps, the running user, defaults of fields the header does not set) go into
the SQL as literals, so each row binds only what varies: binding is a large part of a row's cost in
SQLite. An update sets a column only on rows whose cell was not empty (``SET c = IIF(?, ?, c)``),
or unconditionally when every row has a value.

This module uses the standard library only: the writer process imports it and nothing heavier.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    sql: str
    columns: tuple[list[object], ...]  # parameter columns, all the same length (one entry per row)


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
    sql = (f"INSERT INTO {quote_name(table)} ({', '.join(map(quote_name, names + const_names))}) "
           f"VALUES ({', '.join(['?'] * len(names) + [sql_value(constants[n]) for n in const_names])})")
    return Statement(sql, (ids, *columns.values()))


def update_statement(table: str, ids: list[str], columns: Mapping[str, tuple[list[object], list[bool] | None]],
                     constants: Mapping[str, object]) -> Statement:
    """UPDATE `ids`: each column is (values, set_flags); flags None means "set on every row"."""
    assignments: list[str] = []
    params: list[list[object]] = []
    for name, (values, flags) in columns.items():
        column = quote_name(name)
        if flags is None:
            assignments.append(f"{column} = ?")
            params.append(values)
        else:
            assignments.append(f"{column} = IIF(?, ?, {column})")
            params.extend((list(flags), values))
    assignments += [f"{quote_name(name)} = {sql_value(value)}" for name, value in constants.items()]
    sql = f'UPDATE {quote_name(table)} SET {", ".join(assignments)} WHERE "Id" = ?'
    return Statement(sql, (*params, ids))


def soft_delete_statement(table: str, ids: list[str], constants: Mapping[str, object]) -> Statement:
    """Move records to the recycle bin: IsDeleted = 1 (queryAll still sees them)."""
    return update_statement(table, ids, {}, {"IsDeleted": 1, **constants})


def hard_delete_statement(table: str, ids: list[str]) -> Statement:
    return Statement(f'DELETE FROM {quote_name(table)} WHERE "Id" = ?', (ids,))


def execute(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """Run `statements` (inside the caller's transaction)."""
    for statement in statements:
        if not statement.columns:  # DDL, or SQL without parameters
            conn.execute(statement.sql)
        elif statement.columns[0]:
            conn.executemany(statement.sql, zip(*statement.columns, strict=True))


def apply(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    """Run `statements` in one transaction of their own."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        execute(conn, statements)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
