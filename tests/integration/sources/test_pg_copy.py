"""PostgreSQL sources read by COPY give the text the generic (driver values) path gives, type by
type: NULL and empty strings, booleans, dates, timestamps with and without zones, times, numerics,
floats, bytea, multi-line and quoted text. A real server (see conftest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from psycopg import sql

from migrator.compile.readers.base import TEXT, ReadContext
from migrator.compile.readers.pgcopy import copy_plan, describe
from migrator.compile.readers.sql import SqlReader
from migrator.plan.model import SourceSpec

TYPED = """
CREATE TABLE typed (seq integer PRIMARY KEY, t text, v varchar(20), c char(3), b boolean, d date, ts timestamp,
                    tz timestamptz, tm time, n numeric(10, 3), i integer, big bigint, f8 float8, f4 real,
                    by bytea, u uuid, nu numeric)
"""
ROWS = [
    "(1, 'plain', 'v', 'ab', true, '2024-01-31', '2024-01-31 10:30:00', '2024-01-31 10:30:00+02', '10:30:00', "
    "1200.5, 42, 9007199254740993, 1.5, 0.1, '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5)",
    "(2, '', '', '', false, '1999-12-31', '2024-01-31 10:30:00.25', '2024-06-30 23:59:59.5-07', '23:59:59.123', "
    "-0.001, -7, 0, 0.30000000000000004, 3.25, '', NULL, 1.25)",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(4, E'two\\nlines, \"quoted\"', 'é ü 😀', 'x', true, '0900-03-01', '2000-02-29 00:00:00.000001', "
    "'1970-01-01 00:00:00+00', '00:00:00', 0, 2147483647, -9223372036854775808, 1e-05, 1e20, '\\x41', NULL, 100)",
    "(5, ' padded ', 'NULL', 'NA', false, '2024-02-29', NULL, NULL, NULL, 99999.999, 0, 1, 123456789012, -2.5e-7, "
    "NULL, NULL, 0.0000001)",
    "(6, 'floats', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', 'Infinity', NULL, NULL, 'NaN')",
    "(7, 'floats', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', 1, NULL, NULL, -3)",
]


@pytest.fixture(scope="module")
def typed(postgres):
    with postgres.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS typed")
        connection.execute(TYPED)
        connection.execute(f"INSERT INTO typed VALUES {', '.join(ROWS)}")
        connection.execute("DROP TABLE IF EXISTS with_json")
        connection.execute("CREATE TABLE with_json (seq integer PRIMARY KEY, doc jsonb, tags text[])")
        connection.execute("""INSERT INTO with_json VALUES (1, '{"a": 1, "b": [1, 2]}', '{x,y}'), (2, NULL, NULL)""")
    return postgres


def _read(postgres, monkeypatch, use_copy: bool, **source: object) -> tuple[pd.DataFrame, list[str]]:
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    spec = SourceSpec(pattern="", url=postgres.url, **source)  # type: ignore[arg-type]
    chunks = list(SqlReader(spec, ReadContext(sources_dir=Path.cwd()), use_copy=use_copy).chunks())
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    refs = [str(r) for c in chunks for r in c.lines]
    return frame, refs


def _described(postgres, select: str) -> list[tuple[str, int]]:
    engine = sa.create_engine(postgres.url.replace("postgresql://", "postgresql+psycopg://").replace(
        "@", f":{postgres.password}@", 1))
    try:
        with engine.connect() as conn:
            return describe(conn.connection.driver_connection, sql.SQL(select))  # type: ignore[arg-type]
    finally:
        engine.dispose()


@pytest.mark.parametrize("source", [{"table": "typed"}, {"query": "SELECT * FROM typed ORDER BY seq DESC"},
                                    {"table": "typed", "columns": ("tz", "b", "f8")}])
def test_copy_gives_the_generic_paths_text_for_every_type(typed, monkeypatch, source):
    copied, copied_refs = _read(typed, monkeypatch, True, **source)
    fetched, fetched_refs = _read(typed, monkeypatch, False, **source)
    pd.testing.assert_frame_equal(copied, fetched)
    assert copied_refs == fetched_refs
    assert len(copied) == len(ROWS) and all(dtype == TEXT for dtype in copied.dtypes)


def test_copy_text_rules(typed, monkeypatch):
    frame, refs = _read(typed, monkeypatch, True, table="typed")
    rows = frame.set_index("seq").to_dict("index")
    assert refs[:2] == ["seq 1", "seq 2"]
    # NULL and an empty string are both blank; words that look like nulls stay words
    assert rows["2"]["t"] == rows["3"]["t"] == "" and rows["5"]["v"] == "NULL" and rows["5"]["c"] == "NA "
    assert rows["1"]["b"] == "true" and rows["2"]["b"] == "false" and rows["3"]["b"] == ""
    assert rows["1"]["d"] == "2024-01-31" and rows["4"]["d"] == "0900-03-01"
    assert rows["1"]["ts"] == "2024-01-31T10:30:00" and rows["2"]["ts"] == "2024-01-31T10:30:00.25"
    assert rows["1"]["tz"] == "2024-01-31T08:30:00Z" and rows["2"]["tz"] == "2024-07-01T06:59:59.5Z"
    assert rows["2"]["tm"] == "23:59:59.123000"
    assert rows["1"]["n"] == "1200.500" and rows["2"]["n"] == "-0.001"
    assert rows["1"]["big"] == "9007199254740993" and rows["4"]["big"] == "-9223372036854775808"
    assert rows["1"]["f4"] == "0.1" and rows["2"]["f8"] == "0.30000000000000004" and rows["4"]["f8"] == "0.00001"
    assert rows["5"]["f8"] == "123456789012" and rows["6"]["f8"] == "nan" and rows["7"]["f8"] == "-inf"
    assert rows["4"]["f4"] == "100000000000000000000" and rows["6"]["f4"] == "inf" and rows["7"]["f4"] == "1"
    assert rows["1"]["by"] == "AP8Q" and rows["2"]["by"] == "" and rows["4"]["by"] == "QQ=="
    assert rows["4"]["t"] == 'two\nlines, "quoted"' and rows["4"]["v"] == "é ü 😀"
    assert rows["1"]["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    # an unconstrained numeric keeps each value's own scale, never exponents
    assert [rows[str(n)]["nu"] for n in range(1, 8)] == ["1.5", "1.25", "", "100", "0.0000001", "NaN", "-3"]


def test_the_legacy_tables_go_by_copy_and_json_or_arrays_by_the_driver(typed, monkeypatch):
    """The byte-identical parts test reads these types: COPY covers them. A jsonb or array column
    has no COPY rule: such a result is read through the driver, with the same text as before."""
    assert copy_plan(sql.SQL("SELECT * FROM typed"), _described(typed, "SELECT * FROM typed")) is not None
    legacy = ("SELECT 1::integer AS seq, 'x'::text AS id, 2::bigint AS revenue, now()::date AS close, "
              "1.5::numeric(12, 2) AS amount")
    assert copy_plan(sql.SQL(legacy), _described(typed, legacy)) is not None
    described = _described(typed, "SELECT * FROM with_json")
    assert copy_plan(sql.SQL("SELECT * FROM with_json"), described) is None
    frame, refs = _read(typed, monkeypatch, True, table="with_json")
    assert frame["doc"].tolist() == ['{"a":1,"b":[1,2]}', ""] and frame["tags"].tolist() == ['["x","y"]', ""]
    assert refs == ["seq 1", "seq 2"]
