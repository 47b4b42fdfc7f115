"""The writer process applies batches in order and reports failures back."""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from migrator.localorg.dml_write import (
    Statement,
    execute,
    hard_delete_statement,
    insert_statement,
    update_statement,
)
from migrator.localorg.sqlwriter import SqlWriter, WriterError, pack, unpack


def test_writer_applies_batches_and_reports_errors(tmp_path):
    db = tmp_path / "w.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
    writer = SqlWriter(db, depth=2)
    try:
        for n in range(5):
            writer.submit([Statement("INSERT INTO t (id, v) VALUES (?, ?)", ([f"r{n}"], [str(n)]))])
        writer.drain()
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (5,)
        writer.submit([Statement("INSERT INTO t (id, v) VALUES (?, ?)", (["r0"], ["dup"]))])
        writer.submit([Statement("CREATE INDEX IF NOT EXISTS t_v ON t (v)", ())])
        with pytest.raises(WriterError, match="UNIQUE"):
            writer.drain()
        writer.drain()  # the failure was reported once; the writer goes on
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't_v'").fetchone() == ("t_v",)
    finally:
        writer.close()
    writer.close()  # closing twice is harmless


def _table(conn: sqlite3.Connection) -> None:
    conn.execute('CREATE TABLE "Account" ("Id" TEXT PRIMARY KEY, "Name" TEXT, "Rating" TEXT, "Stamp" TEXT)')


def _rows(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute('SELECT * FROM "Account" ORDER BY "Id"').fetchall()


@pytest.mark.parametrize("count", [1, 7, 99, 100, 101, 333])
def test_multi_row_statements_write_what_one_row_at_a_time_writes(count):
    """INSERT ... VALUES (..),(..), UPDATE ... FROM (VALUES ..) and DELETE ... IN (..) against the
    one-row statements they replace, on counts below, at and around the rows-per-execution size."""
    ids = [f"001{n:015d}" for n in range(count)]
    names = [f"Name {n}" if n % 5 else None for n in range(count)]
    new_names = [f"Renamed {n}" for n in range(count)]
    flags = [n % 3 == 0 for n in range(count)]  # update Name only on these rows
    ratings = ["Hot" if n % 2 else "Cold" for n in range(count)]
    statements = [
        insert_statement("Account", ids, {"Name": names}, {"Stamp": "2026-01-01T00:00:00.000Z"}),
        update_statement("Account", ids, {"Name": (new_names, flags), "Rating": (ratings, None)},
                         {"Stamp": "2026-02-02T00:00:00.000Z"}),
        hard_delete_statement("Account", ids[::4]),
    ]
    assert statements[0].head is not None and statements[1].head is not None
    multi, single = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for conn in (multi, single):
        _table(conn)
    execute(multi, statements)
    for statement in statements:
        single.executemany(statement.sql, zip(*statement.columns, strict=True))
    assert _rows(multi) == _rows(single)
    assert len(_rows(multi)) == count - len(ids[::4])
    if count > 3:
        kept = dict((row[0], row) for row in _rows(multi))
        assert kept[ids[3]][1:] == ("Renamed 3", "Hot", "2026-02-02T00:00:00.000Z")
        assert kept[ids[1]][1:] == ("Name 1", "Hot", "2026-02-02T00:00:00.000Z")


def test_update_with_a_repeated_id_runs_one_row_at_a_time_in_order():
    statement = update_statement("Account", ["a", "a"], {"Name": (["first", "last"], None)}, {})
    assert statement.head is None  # a join would keep one of the two rows, not necessarily the last
    conn = sqlite3.connect(":memory:")
    _table(conn)
    conn.execute("""INSERT INTO "Account" ("Id") VALUES ('a')""")
    execute(conn, [statement])
    assert conn.execute('SELECT "Name" FROM "Account"').fetchone() == ("last",)


@pytest.mark.parametrize("column", [
    [], [""], ["a", "", "b"], ["x\x1fy", "z"], [None, "a"], [1, 2.5, None], [True, False],
    ["ünïcode", "新しい"],
])
def test_columns_survive_the_trip_to_the_writer_process(column):
    statement = Statement("SELECT ?", (column,), "SELECT ", "?", "")
    (back,) = unpack(pickle.loads(pickle.dumps(pack([statement]))))
    assert back == statement
