"""Property: any text either compiles or raises SoqlError, never another exception; and whatever
compiles also runs (rows, records and count agree) against the sample store."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.localorg.csvformat import quoted_rows
from migrator.localorg.soql import SoqlError, compile_query

from .test_soql_support import TODAY, SampleOrg, sample_org

ORG: SampleOrg = sample_org()

VALID_QUERIES = [
    "SELECT Id, Name, Account.Name, Account.Owner.Email FROM Contact WHERE Account.Name LIKE 'A%'",
    "SELECT Subject, Who.Name, What.Type FROM Task WHERE Who.Type = 'Lead' OR What.Name != null",
    "SELECT Name FROM Account WHERE (Industry IN ('Banking', null) OR NOT AnnualRevenue > 10.5) "
    "AND CreatedDate = LAST_N_DAYS:30 ORDER BY Name DESC NULLS LAST, Owner.Email LIMIT 10 OFFSET 1",
    "SELECT COUNT() FROM Contact WHERE Birthdate < 2000-01-01 AND HasOptedOutOfEmail = false",
    "SELECT COUNT(Id), COUNT_DISTINCT(AccountId) n FROM Contact WHERE ReportsTo.Account.Name = 'x'",
    "SELECT FIELDS(STANDARD) FROM Lead WHERE CreatedDate > 2024-01-01T00:00:00+02:00",
    "SELECT Name, Budget__c FROM Project__c WHERE Tags__c INCLUDES ('Red;Blue', 'Green') "
    "AND Kickoff__c = THIS_MONTH",
    "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName = 'O\\'Brien')",
    "SELECT a.Name FROM Account a WHERE a.Id NOT IN (SELECT WhatId FROM Task) AND Name LIKE '100\\%'",
]

TOKENS = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "NOT IN", "LIKE", "INCLUDES", "EXCLUDES",
    "ORDER BY", "ASC", "DESC", "NULLS FIRST", "NULLS LAST", "LIMIT", "OFFSET", "GROUP BY", "HAVING", "TYPEOF",
    "COUNT()", "COUNT(", "FIELDS(ALL)", "(", ")", ",", ".", ":", "=", "!=", "<>", "<", "<=", ">", ">=",
    "Id", "Name", "Account", "Contact", "Task", "Who", "What", "Owner", "ReportsTo", "Parent_Account__r",
    "Industry", "CreatedDate", "Birthdate", "Tags__c", "AccountId", "WhoId", "Foo", "a", "Lead",
    "'x'", "''", "'%a_'", "'\\'", "'\\n'", "1", "-2.5", "99999999999999999999999", "true", "null",
    "2024-01-31", "2024-02-30", "2024-01-31T10:00:00Z", "2024-01-31T10:00:00+05:30", "TODAY",
    "LAST_N_DAYS:3", "LAST_N_DAYS", "NEXT_N_YEARS:999999999", "'001000000000001'", " ", "\n",
]


def check(soql: str) -> None:
    try:
        query = compile_query(soql, ORG.schema, today=TODAY)
    except SoqlError as error:
        assert error.error_code and error.message
        assert error.position is None or 0 <= error.position <= len(soql)
        return
    rows = list(query.iter_rows(ORG.conn))
    records = list(query.iter_records(ORG.conn))
    assert all(isinstance(value, str) for row in rows for value in row)
    assert all(len(row) == len(query.columns) for row in rows)
    if query.is_count:
        assert rows == [] and records == []
    else:
        assert len(rows) == len(records) == query.count(ORG.conn)
    chunk = query.with_id_range("000", "zzz")
    assert list(chunk.iter_rows(ORG.conn)) == rows or query.order_sql == ""
    lines = [line for block in query.iter_csv_lines(ORG.conn, 3, ",") for line in block.to_pylist()]
    assert "".join(line + "\n" for line in lines).encode() == quoted_rows(list(zip(*rows, strict=True)), "COMMA", "LF")


FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    check(text)


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup(tokens):
    check(" ".join(tokens))


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from(["Account", "Contact", "Task"]))
def test_token_soup_after_a_valid_prefix(tokens, obj):
    check(f"SELECT Id FROM {obj} WHERE " + " ".join(tokens))


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(VALID_QUERIES))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "case"]))
        end = min(len(text), at + draw(st.integers(1, 12)))
        if action == "delete":
            text = text[:at] + text[end:]
        elif action == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS) | st.text(max_size=3)) + text[at:]
        elif action == "replace":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[end:]
        elif action == "duplicate":
            text = text[:end] + text[at:end] + text[end:]
        else:
            text = text[:at] + text[at:end].swapcase() + text[end:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_queries(text):
    check(text)


@pytest.mark.parametrize("soql", VALID_QUERIES)
def test_the_seed_queries_are_valid(soql):
    query = compile_query(soql, ORG.schema, today=TODAY)
    check(soql)
    assert query.columns or query.is_count


PATHOLOGICAL = {
    "30k NOTs": "SELECT Id FROM Account WHERE " + "NOT " * 30_000 + "Name = 'x'",
    "2k nested semi-joins": "SELECT Id FROM Account WHERE Id IN (SELECT Id FROM Account WHERE Id IN " * 1200,
    "31k IN values": "SELECT Id FROM Account WHERE Name IN (" + ", ".join(["'v'"] * 31_000) + ")",
    "60k LIKE pattern": "SELECT Id FROM Account WHERE Name LIKE '" + "%" * 60_000 + "'",
    "3k duplicate fields": "SELECT " + ", ".join(["Name"] * 3000) + " FROM Account",
    "a unicode flood": "SELECT Id FROM Account WHERE Name = '" + "é\u00e9" * 12_000 + "' ORDER BY",
}


@pytest.mark.parametrize("soql", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_inputs_are_refused(soql):
    with pytest.raises(SoqlError):
        compile_query(soql, ORG.schema)


def test_redundant_parentheses_are_harmless():
    soql = "SELECT Id FROM Account WHERE " + "(" * 30_000 + "Name = 'Acme'" + ")" * 30_000
    assert [row[0] for row in compile_query(soql, ORG.schema).iter_rows(ORG.conn)] == [ORG.ids["acme"]]
