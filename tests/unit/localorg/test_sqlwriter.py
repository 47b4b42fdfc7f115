"""The writer process applies batches in order and reports failures back."""

from __future__ import annotations

import sqlite3

import pytest

from migrator.localorg.dml_write import Statement
from migrator.localorg.sqlwriter import SqlWriter, WriterError


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
