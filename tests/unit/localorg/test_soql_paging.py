"""ORDER BY, LIMIT/OFFSET, deleted rows (query vs queryAll), count(), PK-chunk ranges and streaming."""

from __future__ import annotations

import itertools

import pytest

from migrator.localorg.soql import SoqlError, compile_query

from .test_soql_support import SampleOrg, Store, sample_org


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    return sample_org()


def test_order_by_several_fields_and_directions(org):
    assert org.column("SELECT Name FROM Account ORDER BY Name DESC") == ["Initech", "Globex", "Acme"]
    assert org.rows("SELECT HasOptedOutOfEmail, LastName FROM Contact ORDER BY HasOptedOutOfEmail DESC, "
                    "LastName ASC") == [("true", "Doe"), ("false", "Roe"), ("false", "Solo")]


def test_order_by_is_case_insensitive_for_text():
    store = Store()
    for name in ("banana", "Apple", "cherry"):
        store.insert("Lead", LastName=name, Company="C")
    q = compile_query("SELECT LastName FROM Lead ORDER BY LastName", store.schema)
    assert [r[0] for r in q.iter_rows(store.conn)] == ["Apple", "banana", "cherry"]


def test_order_by_nulls_first_and_last(org):
    assert org.column("SELECT Name FROM Account ORDER BY Industry") == ["Initech", "Globex", "Acme"]
    assert org.column("SELECT Name FROM Account ORDER BY Industry NULLS LAST") == [
        "Globex", "Acme", "Initech"]
    assert org.column("SELECT Name FROM Account ORDER BY Industry DESC") == ["Acme", "Globex", "Initech"]
    assert org.column("SELECT Name FROM Account ORDER BY Industry DESC NULLS FIRST") == [
        "Initech", "Acme", "Globex"]


def test_order_by_parent_field(org):
    assert org.column("SELECT LastName FROM Contact ORDER BY Account.Name DESC NULLS LAST") == [
        "Roe", "Doe", "Solo"]
    assert org.column("SELECT Subject FROM Task ORDER BY Who.Name NULLS LAST") == ["Call", "Email", "Nothing"]


def test_limit_and_offset(org):
    assert org.column("SELECT Name FROM Account ORDER BY Name LIMIT 2") == ["Acme", "Globex"]
    assert org.column("SELECT Name FROM Account ORDER BY Name LIMIT 1 OFFSET 1") == ["Globex"]
    assert org.column("SELECT Name FROM Account ORDER BY Name OFFSET 2") == ["Initech"]
    assert org.column("SELECT Name FROM Account LIMIT 0") == []
    q = org.compile("SELECT Name FROM Account ORDER BY Name LIMIT 5 OFFSET 1")
    assert q.uses_offset and q.limit == 5 and q.offset == 1


def test_count_respects_limit_and_offset(org):
    assert org.compile("SELECT Id FROM Account").count(org.conn) == 3
    assert org.compile("SELECT Id FROM Account LIMIT 2").count(org.conn) == 2
    assert org.compile("SELECT Id FROM Account OFFSET 2").count(org.conn) == 1
    assert org.compile("SELECT Id FROM Account LIMIT 10 OFFSET 5").count(org.conn) == 0
    assert org.compile("SELECT COUNT() FROM Account LIMIT 1").count(org.conn) == 1


def test_count_skips_joins_only_the_select_needs(org):
    q = org.compile("SELECT Id, Account.Name, Owner.Email FROM Contact WHERE ReportsTo.LastName = 'Doe'")
    assert q.count(org.conn) == 1
    seen: list[str] = []
    org.conn.set_trace_callback(seen.append)
    try:
        q.count(org.conn)
    finally:
        org.conn.set_trace_callback(None)
    [statement] = seen
    assert statement.count("LEFT JOIN") == 1 and '"Contact" AS j' in statement


def test_offset_limit_is_2000(org):
    assert org.compile("SELECT Id FROM Account OFFSET 2000").uses_offset
    with pytest.raises(SoqlError) as caught:
        org.compile("SELECT Id FROM Account LIMIT 5 OFFSET 2001")
    assert caught.value.error_code == "NUMBER_OUTSIDE_VALID_RANGE"
    assert caught.value.position == 31


def test_ordering_aggregates_is_refused(org):
    with pytest.raises(SoqlError) as caught:
        org.compile("SELECT COUNT() FROM Account ORDER BY Name")
    assert caught.value.error_code == "MALFORMED_QUERY" and caught.value.position == 37


def test_deleted_rows_only_with_include_deleted(org):
    assert "Gone Corp" not in org.column("SELECT Name FROM Account")
    assert "Gone Corp" in org.column("SELECT Name FROM Account", include_deleted=True)
    deleted = org.column("SELECT Name FROM Account WHERE IsDeleted = true", include_deleted=True)
    assert deleted == ["Gone Corp"]
    assert org.compile("SELECT COUNT() FROM Account", include_deleted=True).count(org.conn) == 4
    flags = org.rows("SELECT IsDeleted FROM Account WHERE Name = 'Gone Corp'", include_deleted=True)
    assert flags == [("true",)]


def test_deleted_parents_are_not_joined_in_normal_queries():
    store = Store()
    parent = store.insert("Account", Name="Deleted parent", IsDeleted=1)
    store.insert("Contact", LastName="Orphan", AccountId=parent)
    live = compile_query("SELECT LastName, Account.Name FROM Contact", store.schema)
    every = compile_query("SELECT LastName, Account.Name FROM Contact", store.schema, include_deleted=True)
    assert list(live.iter_rows(store.conn)) == [("Orphan", "")]
    assert list(every.iter_rows(store.conn)) == [("Orphan", "Deleted parent")]


def test_with_id_range_bounds_the_root_id(org):
    q = org.compile("SELECT Name FROM Account ORDER BY Name")
    acme, globex, initech = org.ids["acme"], org.ids["globex"], org.ids["initech"]
    assert [r[0] for r in q.with_id_range(globex, None).iter_rows(org.conn)] == ["Globex", "Initech"]
    assert [r[0] for r in q.with_id_range(None, globex).iter_rows(org.conn)] == ["Acme"]
    assert [r[0] for r in q.with_id_range(acme, initech).iter_rows(org.conn)] == ["Acme", "Globex"]
    assert q.with_id_range(acme, initech).count(org.conn) == 2
    chunked = q.with_id_range(acme, globex)
    assert chunked.params == [acme, globex] and '"Id" >= ?' in chunked.sql
    assert q.params == [] and [r[0] for r in q.iter_rows(org.conn)] == ["Acme", "Globex", "Initech"]


def test_with_id_range_keeps_filter_parameters_in_order(org):
    q = org.compile("SELECT Name FROM Account WHERE Industry != 'Banking'")
    chunk = q.with_id_range(org.ids["acme"], org.ids["initech"])
    assert chunk.params == ["Banking", org.ids["acme"], org.ids["initech"]]
    assert [r[0] for r in chunk.iter_rows(org.conn)] == ["Acme"]


def test_iter_rows_streams_from_a_cursor():
    store = Store()
    insert = 'INSERT INTO "Lead" ("Id", "IsDeleted", "LastName", "Company") VALUES (?, 0, ?, ?)'
    store.conn.executemany(insert, ((store.new_id("Lead"), f"L{i}", "C") for i in range(20_000)))
    steps = [0]

    def count_steps() -> int:
        steps[0] += 1
        return 0

    store.conn.set_progress_handler(count_steps, 100)  # called every 100 SQLite VM instructions
    rows = compile_query("SELECT LastName FROM Lead", store.schema).iter_rows(store.conn)
    assert list(itertools.islice(rows, 3)) == [("L0",), ("L1",), ("L2",)]
    after_three = steps[0]
    assert sum(1 for _ in rows) == 20_000 - 3
    # Only a sliver of the scan ran before the first rows came out: SQLite is stepped as we go.
    assert after_three * 100 < steps[0]
