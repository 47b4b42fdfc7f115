"""The DML engine on its own (no HTTP): what Bulk API 1.0 will call too."""

from __future__ import annotations

import pyarrow as pa
import pytest

from migrator.localorg.dml_engine import DmlContext, DmlEngine
from migrator.localorg.dml_write import Statement, apply
from migrator.localorg.keyindex import KeyIndexes
from migrator.localorg.orgschema import load_schema, merge_schema
from migrator.localorg.store import Store

SCHEMA = merge_schema(load_schema(), {"objects": {"Account": {"fields": {
    "Ext__c": {"type": "text", "external_id": True, "unique": True}}}}}, "test")


@pytest.fixture
def engine(tmp_path) -> DmlEngine:
    store = Store(tmp_path / "org.db", SCHEMA)
    store.initialize()
    return DmlEngine(store)


def _run(engine: DmlEngine, object_name: str, operation: str, header: list[str], rows: list[list[str]],
         key: str | None = None):
    plan = engine.prepare(object_name, operation, header, key)
    columns = [pa.array([r[i] for r in rows], pa.string()) for i in range(len(header))]
    ctx = DmlContext(engine.store.conn(), engine.store.identity.user_id, "2024-05-01T10:00:00.000Z",
                     KeyIndexes(engine.store.conn()))
    return engine.run_batch(plan, columns, len(rows), ctx)


def test_failing_rows_never_stop_the_others(engine):
    result = _run(engine, "Account", "insert", ["Name", "Ext__c", "NumberOfEmployees"],
                  [["A", "1", "5"], ["", "2", "5"], ["C", "3", "x"], ["D", "1", "1"]])
    assert result.ok.tolist() == [True, False, False, False]
    assert result.created.tolist() == [True, False, False, False]
    rows = engine.store.conn().execute('SELECT "Name", "Ext__c", "CreatedDate" FROM "Account"').fetchall()
    assert rows == [("A", "1", "2024-05-01T10:00:00.000Z")]


def test_upsert_update_delete_cycle(engine):
    first = _run(engine, "Account", "upsert", ["Name", "Ext__c"], [["A", "k1"], ["B", "k2"]], "Ext__c")
    second = _run(engine, "Account", "upsert", ["Name", "Ext__c"], [["A2", "K1"], ["C", "k3"]], "Ext__c")
    assert second.created.tolist() == [False, True] and second.ids[0] == first.ids[0]
    update = _run(engine, "Account", "update", ["Id", "Site"], [[first.ids[1], "x"]])
    assert update.ok.all() and update.ids[0] == first.ids[1]
    delete = _run(engine, "Account", "delete", ["Id"], [[first.ids[0]]])
    assert delete.ok.all()
    live = engine.store.conn().execute('SELECT "Name" FROM "Account" WHERE "IsDeleted" = 0 ORDER BY "Name"')
    assert [r[0] for r in live] == ["B", "C"]


def test_prepare_batch_only_reads(engine):
    plan = engine.prepare("Account", "insert", ["Name"])
    counters = iter(range(1, 100))
    ctx = DmlContext(engine.store.conn(), engine.store.identity.user_id, "2024-05-01T10:00:00.000Z",
                     KeyIndexes(engine.store.conn()), reserve=lambda name, count: next(counters))
    prepared = engine.prepare_batch(plan, [pa.array(["A", "B"])], 2, ctx)
    assert engine.store.conn().execute('SELECT count(*) FROM "Account"').fetchone() == (0,)
    assert [s.sql.split()[0] for s in prepared.statements] == ["INSERT"]
    apply(engine.store.conn(), prepared.statements)
    ids = [r[0] for r in engine.store.conn().execute('SELECT "Id" FROM "Account" ORDER BY "Name"')]
    assert ids == prepared.result.ids.tolist()


def test_a_failing_statement_rolls_back_its_whole_batch(engine):
    bad = [Statement('INSERT INTO "Account" ("Id", "Name") VALUES (?, ?)', (["001X", "001X"], ["a", "b"]))]
    with pytest.raises(Exception, match="UNIQUE"):
        apply(engine.store.conn(), bad)
    assert engine.store.conn().execute('SELECT count(*) FROM "Account"').fetchone() == (0,)
