"""Bulk query results as CSV lines written by SQLite: byte for byte what quoting the rows cell by
cell writes, for quotes, line breaks, delimiters, unicode, blanks, booleans, numbers and doubles."""

from __future__ import annotations

import pytest

from migrator.localorg.csvformat import DELIMITERS, quoted_rows
from migrator.localorg.soql import compile_query
from migrator.localorg.soql import query as query_module

from .test_soql_support import TODAY, Store

AWKWARD = ['say "hi"', "two\nlines", "tab\there", "semi;colon|pipe^caret`back", "", "ünïcödé ✓", "100%", "'q'",
           '"', "a,b"]
DOUBLES = [1500000.0, 0.1, 1e22, 12345678901234567890.0, -2.5, None, 3.0, 1e-7]


@pytest.fixture(scope="module")
def store() -> Store:
    store = Store()
    for index, (name, budget) in enumerate(zip(AWKWARD, DOUBLES * 2, strict=False)):
        store.insert("Project__c", Name=name, Budget__c=budget, Score__c=None if index % 3 else index / 7,
                     Active__c=index % 2, Tags__c="Red;Blue" if index % 2 else None)
    return store


@pytest.mark.parametrize("delimiter", sorted(DELIMITERS))
@pytest.mark.parametrize("soql", [
    "SELECT Name FROM Project__c",
    "SELECT Id, Name, Budget__c, Score__c, Active__c, Tags__c, Kickoff__c FROM Project__c",
    "SELECT Budget__c FROM Project__c",
    "SELECT Budget__c, Score__c, Name FROM Project__c ORDER BY Name",
    "SELECT FIELDS(ALL) FROM Project__c",
])
def test_lines_are_the_quoted_rows(store, soql, delimiter):
    query = compile_query(soql, store.schema, today=TODAY)
    rows = list(query.iter_rows(store.conn))
    lines = [line for block in query.iter_csv_lines(store.conn, 4, DELIMITERS[delimiter]) for line in block.to_pylist()]
    assert len(lines) == len(rows) == len(AWKWARD)
    expected = quoted_rows(list(zip(*rows, strict=True)), delimiter, "CRLF")
    assert "".join(line + "\r\n" for line in lines).encode() == expected


def test_lines_longer_than_one_printf_call(store, monkeypatch):
    """SQLite takes at most 100 arguments per function: long select lists are split over several calls."""
    monkeypatch.setattr(query_module, "PRINTF_VALUES", 3)
    query = compile_query("SELECT FIELDS(ALL) FROM Project__c", store.schema, today=TODAY)
    assert len(query.columns) > 2 * query_module.PRINTF_VALUES
    rows = list(query.iter_rows(store.conn))
    lines = [line for block in query.iter_csv_lines(store.conn, 100, "|") for line in block.to_pylist()]
    assert "".join(line + "\n" for line in lines).encode() == quoted_rows(list(zip(*rows, strict=True)), "PIPE", "LF")
