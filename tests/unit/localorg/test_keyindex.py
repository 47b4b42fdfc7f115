"""Key indexes: SQL and in-memory strategies agree, ASCII-only folding, staying current, the cache."""

from __future__ import annotations

import sqlite3

import pytest

from migrator.localorg.keyindex import KeyIndex, KeyIndexCache, KeyIndexes, fold
from migrator.localorg.orgschema import load_schema, merge_schema
from migrator.localorg.store import Store

SCHEMA = merge_schema(load_schema(), {"objects": {"Account": {"fields": {
    "Ext__c": {"type": "text", "external_id": True},
    "Exact__c": {"type": "text", "external_id": True, "case_sensitive": True}}}}}, "test")


@pytest.fixture
def conn(tmp_path) -> sqlite3.Connection:
    store = Store(tmp_path / "org.db", SCHEMA)
    store.initialize()
    conn = store.connect()
    rows = [("001A", "Acme", "Acme"), ("001B", "ÉCOLE", "x"), ("001C", "dup", "y"), ("001D", "DUP", "z"),
            ("001E", "gone", "g")]
    conn.executemany('INSERT INTO "Account" ("Id", "Name", "Ext__c", "Exact__c", "IsDeleted") VALUES (?, ?, ?, ?, ?)',
                     [(i, "n", e, x, 1 if e == "gone" else 0) for i, e, x in rows])
    return conn


def test_fold_is_ascii_only_like_nocase():
    assert fold("AbC-1") == "abc-1"
    assert fold("ÉCOLE") == "École", "non-ASCII letters keep their case, as in SQLite"


@pytest.mark.parametrize("in_memory", [False, True])
def test_both_strategies_find_the_same_records(conn, in_memory):
    account = SCHEMA.get("Account")
    index = KeyIndex(account, account.field("Ext__c"), in_memory=in_memory)
    keys = ["acme", "École", "dup", "gone", "missing"]
    assert index.lookup(conn, keys) == ["001A", "001B", ["001C", "001D"], None, None]
    exact = KeyIndex(account, account.field("Exact__c"), in_memory=in_memory)
    assert exact.lookup(conn, ["Acme", "acme"]) == ["001A", None]


def test_in_memory_index_follows_inserts_and_invalidation(conn):
    account = SCHEMA.get("Account")
    index = KeyIndex(account, account.field("Ext__c"), in_memory=True)
    assert index.lookup(conn, ["new"]) == [None]
    index.added(["new", None], ["001N", "001M"])
    index.added(["acme"], ["001Z"])
    assert index.lookup(conn, ["new", "acme"]) == ["001N", ["001A", "001Z"]]
    index.invalidate()
    assert index.invalidations == 1 and index.lookup(conn, ["new"]) == [None], "reloaded from the database"


def test_job_indexes_choose_memory_only_for_big_jobs_on_small_tables(conn):
    account = SCHEMA.get("Account")
    key = account.field("Ext__c")
    assert not KeyIndexes(conn, job_rows=10, threshold=100).get(account, key).in_memory
    assert KeyIndexes(conn, job_rows=100, threshold=100).get(account, key).in_memory
    assert not KeyIndexes(conn, job_rows=1, threshold=1).get(account, key).in_memory, "table 5x the job"


def test_cache_shares_loaded_indexes_between_jobs(conn):
    account = SCHEMA.get("Account")
    key = account.field("Ext__c")
    cache = KeyIndexCache(max_entries=10)
    first = KeyIndexes(conn, job_rows=100, threshold=100, cache=cache)
    index = first.get(account, key)
    index.lookup(conn, ["acme"])
    second = KeyIndexes(conn, job_rows=1, threshold=100, cache=cache)
    assert second.get(account, key) is index and index in second.of_object(account)
    index.invalidate()
    cache.trim()
    assert cache.get(("Account", "Ext__c")) is None
    small = KeyIndexCache(max_entries=1)
    small.put(index)
    index.lookup(conn, ["acme"])
    small.trim()
    assert small.get(("Account", "Ext__c")) is None, "evicted: more keys than the cache holds"
