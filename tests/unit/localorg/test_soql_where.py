"""WHERE: operators, Salesforce's null and case semantics, literals, date literals, type errors, parent
and polymorphic filters, semi-joins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from migrator.localorg.soql import SoqlError, compile_query

from .test_soql_support import SampleOrg, Store, sample_org


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    o = sample_org()
    o.store.insert("Contact", LastName="O'Brien", FirstName="100%_sure", Email="x\\y@z.com")
    return o


def names(org: SampleOrg, where: str, obj: str = "Account", field: str = "Name", **kwargs: Any) -> list[str]:
    return org.column(f"SELECT {field} FROM {obj} WHERE {where} ORDER BY {field}", **kwargs)


def test_string_equality_is_case_insensitive(org):
    assert names(org, "Name = 'ACME'") == ["Acme"]
    assert names(org, "Industry IN ('banking', 'TECHNOLOGY')") == ["Acme", "Globex"]


def test_not_equal_includes_nulls(org):
    assert names(org, "Industry != 'Banking'") == ["Acme", "Initech"]
    assert names(org, "Industry <> 'Banking'") == ["Acme", "Initech"]


def test_null_comparisons(org):
    assert names(org, "Industry = null") == ["Initech"]
    assert names(org, "Industry != null") == ["Acme", "Globex"]
    assert names(org, "Industry = ''") == ["Initech"]
    assert names(org, "OwnerId = null") == ["Initech"]
    assert names(org, "ParentId != null") == ["Globex"]


def test_and_or_not_with_parentheses(org):
    assert names(org, "(Industry = 'Banking' OR Rating = 'Hot') AND NumberOfEmployees > 10") == ["Acme"]
    either = "Industry = 'Banking' OR (Rating = 'Hot' AND NumberOfEmployees > 10)"
    assert names(org, either) == ["Acme", "Globex"]
    assert names(org, "NOT Name = 'Acme'") == ["Globex", "Initech"]
    assert names(org, "NOT (Name = 'Acme' OR Name = 'Globex')") == ["Initech"]


def test_not_binds_to_the_next_condition_only(org):
    # (NOT Industry = 'Banking') AND Name != 'Initech'
    assert names(org, "NOT Industry = 'Banking' AND Name != 'Initech'") == ["Acme"]


def test_not_of_unknown_is_true(org):
    # Industry is null on Initech: SQL would drop it, SOQL keeps it.
    assert names(org, "NOT Industry = 'Banking'") == ["Acme", "Initech"]
    assert names(org, "NOT (Industry LIKE 'B%')") == ["Acme", "Initech"]


def test_mixing_and_with_or_needs_parentheses(org):
    with pytest.raises(SoqlError) as caught:
        org.compile("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'")
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert caught.value.detail == "unexpected token: 'OR'"
    assert caught.value.position == 55


def test_in_and_not_in(org):
    assert names(org, "Name IN ('Acme', 'Initech')") == ["Acme", "Initech"]
    assert names(org, "Industry NOT IN ('Banking')") == ["Acme", "Initech"]
    assert names(org, "Industry IN ('Banking', null)") == ["Globex", "Initech"]
    assert names(org, "Industry NOT IN ('Banking', null)") == ["Acme"]
    assert names(org, "NumberOfEmployees IN (5, 120)") == ["Acme", "Globex"]


def test_like(org):
    assert names(org, "Name LIKE 'a%'") == ["Acme"]
    assert names(org, "Name LIKE '%E%'") == ["Acme", "Globex", "Initech"]
    assert names(org, "Name LIKE 'Glo_ex'") == ["Globex"]
    assert names(org, "Name LIKE 'Glo_'") == []
    assert names(org, "Owner.Email LIKE '%@x.com'") == ["Acme", "Globex"]


def test_like_escapes_and_string_escapes(org):
    assert names(org, "FirstName LIKE '100\\%\\_%'", "Contact", "LastName") == ["O'Brien"]
    assert names(org, "FirstName LIKE '1000%'", "Contact", "LastName") == []
    assert names(org, "LastName = 'O\\'Brien'", "Contact", "LastName") == ["O'Brien"]
    assert names(org, "Email = 'x\\\\y@z.com'", "Contact", "LastName") == ["O'Brien"]
    assert names(org, "Email LIKE 'x\\\\y%'", "Contact", "LastName") == ["O'Brien"]


def test_numbers_and_booleans(org):
    assert names(org, "AnnualRevenue > 1000") == ["Acme"]
    assert names(org, "AnnualRevenue <= 250.75") == ["Globex"]
    assert names(org, "NumberOfEmployees >= 5 AND NumberOfEmployees < 120") == ["Globex"]
    assert names(org, "NumberOfEmployees != 5") == ["Acme", "Initech"]
    assert names(org, "HasOptedOutOfEmail = true", "Contact", "LastName") == ["Doe"]
    assert names(org, "HasOptedOutOfEmail = FALSE AND LastName != 'O\\'Brien'", "Contact", "LastName") == [
        "Roe", "Solo"]


def test_date_fields(org):
    assert names(org, "Birthdate = 1990-05-01", "Contact", "LastName") == ["Doe"]
    assert names(org, "Birthdate < 1990-01-01", "Contact", "LastName") == ["Roe"]
    assert names(org, "Kickoff__c = TODAY", "Project__c") == ["Apollo"]
    assert names(org, "Kickoff__c = LAST_MONTH", "Project__c") == ["Gemini"]
    assert names(org, "Kickoff__c = THIS_WEEK", "Project__c") == ["Apollo"]
    assert names(org, "Kickoff__c < THIS_MONTH", "Project__c") == ["Gemini"]
    assert names(org, "Kickoff__c >= THIS_MONTH", "Project__c") == ["Apollo"]
    assert names(org, "Kickoff__c > LAST_MONTH", "Project__c") == ["Apollo"]
    assert names(org, "Kickoff__c <= LAST_MONTH", "Project__c") == ["Gemini"]
    assert names(org, "Kickoff__c != TODAY", "Project__c") == ["Gemini"]
    assert names(org, "Kickoff__c IN (TODAY, 2024-05-31)", "Project__c") == ["Apollo", "Gemini"]
    assert names(org, "Kickoff__c = LAST_N_DAYS:15", "Project__c") == ["Apollo", "Gemini"]
    assert names(org, "Kickoff__c = LAST_N_DAYS:14", "Project__c") == ["Apollo"]


def test_datetime_fields_compare_in_utc(org):
    # Acme was created 2024-06-15T08:30Z (today), Globex 2024-06-14T23:59:59Z, Initech 2023-12-31.
    assert names(org, "CreatedDate = TODAY") == ["Acme"]
    assert names(org, "CreatedDate = YESTERDAY") == ["Globex"]
    assert names(org, "CreatedDate = TOMORROW") == []
    assert names(org, "CreatedDate = LAST_N_DAYS:1") == ["Acme", "Globex"]
    assert names(org, "CreatedDate = THIS_YEAR") == ["Acme", "Globex"]
    assert names(org, "CreatedDate = LAST_YEAR") == ["Initech"]
    assert names(org, "CreatedDate < THIS_MONTH") == ["Initech"]
    assert names(org, "CreatedDate > 2024-06-15T00:00:00Z") == ["Acme"]
    assert names(org, "CreatedDate >= 2024-06-15T01:59:59+02:00") == ["Acme", "Globex"]
    assert names(org, "CreatedDate = 2024-06-15T08:30:00.000Z") == ["Acme"]
    assert names(org, "CreatedDate > 2024-06-15T10:30:00+02:00") == []


def test_today_follows_the_clock_parameters(org):
    assert names(org, "CreatedDate = TODAY", today=date(2024, 6, 14)) == ["Globex"]
    late_evening_in_new_york = datetime(2024, 6, 14, 22, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert names(org, "CreatedDate = TODAY", today=None, now=late_evening_in_new_york) == ["Acme"]
    new_years_eve = datetime(2023, 12, 31, tzinfo=UTC)
    assert names(org, "CreatedDate = TODAY", today=None, now=new_years_eve) == ["Initech"]


def test_parent_and_polymorphic_filters(org):
    assert names(org, "Account.Name = 'acme'", "Contact", "LastName") == ["Doe"]
    assert names(org, "Account.Owner.LastName = 'Jones'", "Contact", "LastName") == ["Roe"]
    assert names(org, "ReportsTo.Account.Name = 'Globex'", "Contact", "LastName") == ["Solo"]
    assert names(org, "Who.Name LIKE 'J%'", "Task", "Subject") == ["Call"]
    assert names(org, "What.Type = 'Project__c'", "Task", "Subject") == ["Email"]
    assert names(org, "Who.Name = null", "Task", "Subject") == ["Nothing"]


def test_id_literals_accept_15_and_18_characters(org):
    acme = org.ids["acme"]
    assert names(org, f"Id = '{acme}'") == ["Acme"]
    assert names(org, f"Id = '{acme[:15]}'") == ["Acme"]
    assert names(org, f"ParentId IN ('{acme[:15]}')") == ["Globex"]
    assert names(org, f"Id != '{acme}'") == ["Globex", "Initech"]
    assert "COLLATE" not in org.compile(f"SELECT Id FROM Account WHERE Id = '{acme}'").sql  # PK index usable


def test_includes_and_excludes(org):
    assert names(org, "Tags__c INCLUDES ('red')", "Project__c") == ["Apollo"]
    assert names(org, "Tags__c INCLUDES ('Blue;Red')", "Project__c") == ["Apollo"]
    assert names(org, "Tags__c INCLUDES ('Blue;Green')", "Project__c") == []
    assert names(org, "Tags__c INCLUDES ('Blue', 'Green')", "Project__c") == ["Apollo", "Gemini"]
    assert names(org, "Tags__c EXCLUDES ('Red')", "Project__c") == ["Gemini"]


def test_semi_join_and_anti_join(org):
    assert names(org, "Id IN (SELECT AccountId FROM Contact)") == ["Acme", "Globex"]
    assert names(org, "Id NOT IN (SELECT AccountId FROM Contact)") == ["Initech"]
    assert names(org, "Id IN (SELECT AccountId FROM Contact WHERE Account.Owner.FirstName = 'Bob')") == [
        "Globex"]
    assert names(org, "Id IN (SELECT WhatId FROM Task WHERE Status = 'Completed')") == ["Acme"]


@pytest.mark.parametrize(("where", "code", "detail", "at_literal"), [
    ("Birthdate = '1990-05-01'", "INVALID_FIELD",
     "value of filter criterion for field 'Birthdate' must be of type date and should not be enclosed in "
     "quotes", True),
    ("CreatedDate > 2024-01-01", "INVALID_FIELD",
     "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be "
     "enclosed in quotes", True),
    ("Birthdate > 2024-01-01T00:00:00Z", "INVALID_FIELD", "must be of type date", True),
    ("LastName = 5", "INVALID_FIELD",
     "value of filter criterion for field 'LastName' must be of type string and should be enclosed in quotes",
     True),
    ("HasOptedOutOfEmail = 'true'", "INVALID_FIELD", "must be of type boolean", True),
    ("Account.NumberOfEmployees = '5'", "INVALID_FIELD", "must be of type integer", True),
    ("LastName = TODAY", "INVALID_FIELD", "must be of type string", True),
    ("AccountId = 'nope'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: nope", True),
    ("Birthdate LIKE '19%'", "INVALID_QUERY_FILTER_OPERATOR", "LIKE needs a text field", False),
    ("LastName INCLUDES ('a')", "INVALID_QUERY_FILTER_OPERATOR", "only valid on multipicklist", False),
    ("Nope__c = 1", "INVALID_FIELD", "No such column 'Nope__c' on entity 'Contact'", False),
    ("CALENDAR_YEAR(CreatedDate) = 2024", "MALFORMED_QUERY", "CALENDAR_YEAR() in WHERE is not supported",
     False),
    ("Birthdate = 2024-02-30", "MALFORMED_QUERY", "invalid date: 2024-02-30", True),
    ("Birthdate = LAST_N_DAYS", "MALFORMED_QUERY", "unexpected token: 'LAST_N_DAYS'", True),
    ("Birthdate = SOMEDAY", "MALFORMED_QUERY", "unexpected token: 'SOMEDAY'", True),
    ("LastName = 'a\\qb'", "MALFORMED_QUERY", "Illegal character sequence '\\q' in string literal.", True),
    ("Id IN (SELECT Name FROM Account)", "MALFORMED_QUERY", "must select an Id or reference field", False),
    ("LastName IN (SELECT AccountId FROM Contact)", "MALFORMED_QUERY", "need an Id or reference field",
     False),
    ("Id IN (SELECT AccountId FROM Contact WHERE Id IN (SELECT WhoId FROM Task))", "MALFORMED_QUERY",
     "Nesting of semi join", False),
])
def test_filter_errors(org, where, code, detail, at_literal):
    soql = f"SELECT Id FROM Contact WHERE {where}"
    with pytest.raises(SoqlError) as caught:
        org.compile(soql)
    error = caught.value
    assert error.error_code == code
    assert detail in error.detail
    where_at = soql.index(where)
    if at_literal:  # errors about a value point at the value itself
        assert error.position > where_at
    else:
        assert error.position >= where_at
    assert error.query == soql


def test_base64_fields_cannot_be_filtered(org):
    with pytest.raises(SoqlError) as caught:
        org.compile("SELECT Id FROM Project__c WHERE Logo__c = null")
    assert caught.value.error_code == "INVALID_FIELD" and "can not be filtered" in caught.value.detail


def test_empty_string_literals_match_nulls_in_a_fresh_store():
    store = Store()
    store.insert("Lead", LastName="A", Company="C", Email="")
    store.insert("Lead", LastName="B", Company="C")
    q = compile_query("SELECT LastName FROM Lead WHERE Email = null ORDER BY LastName", store.schema)
    assert [r[0] for r in q.iter_rows(store.conn)] == ["A", "B"]
