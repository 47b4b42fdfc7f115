"""Parsing: keywords, whitespace, error positions, unsupported SOQL, literal decoding, date spans,
number formatting and Id checksums."""

from __future__ import annotations

from datetime import date

import pytest

from migrator.localorg.orgschema import merge_schema
from migrator.localorg.soql import SoqlError, compile_query
from migrator.localorg.soql.dates import date_range
from migrator.localorg.soql.formatting import format_double
from migrator.localorg.soql.literals import decode_string, normalize_id, parse_datetime, parse_number
from migrator.localorg.soql.nodes import BoolOp, Comparison, Not
from migrator.localorg.soql.parser import parse_soql

from .test_soql_support import make_schema

SCHEMA = make_schema()


def error_of(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        compile_query(soql, SCHEMA)
    return caught.value


def test_keywords_and_names_are_case_insensitive():
    q = compile_query("sElEcT nAmE fRoM aCcOuNt wHeRe NaMe LiKe 'a%' OrDeR bY nAmE dEsC nUlLs LaSt LiMiT 1",
                      SCHEMA)
    assert q.object_name == "Account" and q.columns == ("Name",) and q.limit == 1


def test_whitespace_and_newlines_are_free():
    q = compile_query("SELECT\n  Id,\n\tName\nFROM\n  Account\nWHERE\n  Name = 'x'\n", SCHEMA)
    assert q.columns == ("Id", "Name")


def test_keywords_that_are_not_reserved_can_name_objects_and_fields():
    document = {"objects": {"Order": {"key_prefix": "801", "fields": {"Offset": {}, "Order": {}}}}}
    schema = merge_schema(SCHEMA, document, "test")
    q = compile_query("SELECT Order, Offset FROM Order WHERE Offset = 'x' ORDER BY Order LIMIT 3 OFFSET 1",
                      schema)
    assert q.object_name == "Order" and q.columns == ("Order", "Offset") and q.limit == 3 and q.offset == 1


def test_not_and_or_structure():
    where = parse_soql("SELECT Id FROM A WHERE NOT a = 1 AND (b = 2 OR NOT c = 3)").where
    assert isinstance(where, BoolOp) and where.op == "AND"
    first, second = where.items
    assert isinstance(first, Not) and isinstance(first.item, Comparison)
    assert isinstance(second, BoolOp) and second.op == "OR" and isinstance(second.items[1], Not)


@pytest.mark.parametrize(("soql", "token", "position"), [
    ("SELECT Id FROM Account GROUP BY", "<EOF>", 31),
    ("SELECT Name FROM Account GROUP BY Name HAVING", "<EOF>", 45),
    ("SELECT TYPEOF What END FROM Task", "END", 19),
    ("SELECT TYPEOF What WHEN Account THEN Name FROM Task", "FROM", 42),
    ("SELECT Id FROM Account FOR", "<EOF>", 26),
    ("SELECT Id FROM Account FOR EVER", "EVER", 27),
    ("SELECT Id FROM Account FOR UPDATE LIMIT 1", "LIMIT", 34),
    ("SELECT Id FROM Account WITH SECURITY_ENFORCED", "WITH", 23),
    ("SELECT Id FROM Account USING SCOPE Mine", "USING", 23),
    ("SELECT Id FROM Account LIMIT 5 LIMIT 6", "LIMIT", 31),
    ("SELECT FROM Account", "FROM", 7),
    ("SELECT Id Account", "Account", 10),
    ("SELECT Id, FROM Account", "FROM", 11),
    ("SELECT Id FROM Account WHERE", "<EOF>", 28),
    ("SELECT Id FROM Account WHERE Name = ", "<EOF>", 36),
    ("SELECT Id FROM Account WHERE Name == 'x'", "=", 35),
    ("SELECT Id FROM Account WHERE (Name = 'x'", "<EOF>", 40),
    ("SELECT Id FROM Account LIMIT -1", "-1", 29),
    ("UPDATE Account SET Name = 'x'", "UPDATE", 0),
    ("", "<EOF>", 0),
    ("SELECT Id FROM Account WHERE Name = 'unterminated", "'", 36),
    ("SELECT Id FROM Account ORDER BY Name ASC DESC", "DESC", 41),
])
def test_malformed_queries_point_at_the_token(soql, token, position):
    error = error_of(soql)
    assert error.error_code == "MALFORMED_QUERY"
    assert error.detail.startswith(f"unexpected token: '{token}'")
    assert error.position == position


def test_unsupported_clauses_are_named():
    assert "WITH is not supported by the local org" in error_of("SELECT Id FROM Account WITH SECURITY_ENFORCED").detail
    assert "USING SCOPE is not supported" in error_of("SELECT Id FROM Account USING SCOPE Mine").detail


def test_group_having_typeof_subqueries_and_modes_parse():
    q = parse_soql("SELECT TYPEOF What WHEN Account THEN Name, Phone ELSE Name END, (SELECT Id FROM Tasks) "
                   "FROM Account GROUP BY Id HAVING COUNT(Id) > 1 ORDER BY COUNT(Id) DESC FOR VIEW UPDATE TRACKING")
    typeof, child = q.select
    assert typeof.field.text == "What" and [w[0] for w in typeof.whens] == ["Account"]
    assert [f.text for f in typeof.whens[0][2]] == ["Name", "Phone"]
    assert [f.text for f in typeof.else_fields] == ["Name"]
    assert child.query.object_name == "Tasks" and [g.text for g in q.group_by] == ["Id"]
    assert q.having.operand.name == "COUNT" and q.order_by[0].path.name == "COUNT" and q.order_by[0].descending
    assert [m for m, _ in q.modes] == ["FOR VIEW", "UPDATE TRACKING"]
    assert parse_soql("SELECT Id FROM Group").object_name == "Group"


def test_relationship_queries_nest_one_level():
    error = error_of("SELECT Id, (SELECT Id, (SELECT Id FROM Cases) FROM Contacts) FROM Account")
    assert "Nesting of relationship queries is not supported" in error.detail


def test_error_positions_on_later_lines():
    error = error_of("SELECT Id,\n       Nope\nFROM Account")
    assert error.error_code == "INVALID_FIELD" and error.position == 18
    assert error.row_column == (2, 8)
    assert error.message.startswith("\n       Nope\n       ^\nERROR at Row:2:Column:8\nNo such column 'Nope'")


def test_unknown_object_error():
    error = error_of("SELECT Id FROM Acount")
    assert (error.error_code, error.position) == ("INVALID_TYPE", 15)
    assert error.detail.startswith("sObject type 'Acount' is not supported.")
    assert str(error) == error.message


def test_overlong_and_invalid_text():
    overlong = error_of("SELECT Id FROM Account WHERE Name = '" + "x" * 100_000 + "'")
    assert overlong.error_code == "MALFORMED_QUERY" and "100000 characters" in overlong.detail
    bad = error_of("SELECT Id FROM Account WHERE Name = '\ud800'")
    assert bad.error_code == "MALFORMED_QUERY" and bad.position == 37
    assert error_of("SELECT Id FROM Account WHERE Name = 'a\x00'").position == 38


def nested(depth: int) -> str:
    condition = "Name = 'x'"
    for level in range(depth):
        condition = f"Name = 'y' {'AND' if level % 2 else 'OR'} ({condition})"
    return "SELECT Id FROM Account WHERE " + condition


def test_nesting_is_bounded():
    assert "nested too deeply" in error_of(nested(60)).detail
    negations = "SELECT Id FROM Account WHERE " + "NOT " * 60 + "Name = 'x'"
    assert "nested too deeply" in error_of(negations).detail
    assert compile_query(nested(30), SCHEMA).columns == ("Id",)
    redundant_parentheses = "SELECT Id FROM Account WHERE " + "(" * 500 + "Name = 'x'" + ")" * 500
    assert compile_query(redundant_parentheses, SCHEMA).columns == ("Id",)


def test_long_flat_chains_compile_and_run():
    from .test_soql_support import Store
    store = Store(SCHEMA)
    store.insert("Account", Name="n499")
    chain = " OR ".join(f"Name = 'n{i}'" for i in range(1500))
    q = compile_query(f"SELECT Name FROM Account WHERE {chain}", SCHEMA)
    assert list(q.iter_rows(store.conn)) == [("n499",)]


def test_string_escapes():
    assert decode_string(r"'a\'b\"c\\d\ne\tf\rg\bh\fi'") == "a'b\"c\\d\ne\tf\rg\bh\fi"
    assert decode_string(r"'\N\T'") == "\n\t"
    assert decode_string(r"'\u00e9'") == "é"
    assert decode_string(r"'100\%'") == "100\\%"
    assert decode_string(r"'100\%\_\\'", for_like=True) == "100\\%\\_\\\\"
    with pytest.raises(ValueError, match=r"Illegal character sequence '\\x'"):
        decode_string(r"'\x'")


def test_numbers():
    assert parse_number("42") == 42 and isinstance(parse_number("42"), int)
    assert parse_number("-1.5") == -1.5
    assert parse_number("9223372036854775807") == 2**63 - 1
    assert parse_number("9223372036854775808") == float(2**63)
    assert parse_number("1" * 5000) == float("inf")


def test_datetimes_are_normalised_to_utc():
    assert parse_datetime("2024-01-31T10:00:00Z") == "2024-01-31T10:00:00.000Z"
    assert parse_datetime("2024-01-31T10:00:00+02:00") == "2024-01-31T08:00:00.000Z"
    assert parse_datetime("2024-01-31T23:30:00-0100") == "2024-02-01T00:30:00.000Z"
    assert parse_datetime("2024-01-31T10:00:00.1234Z") == "2024-01-31T10:00:00.123Z"
    for bad in ("2024-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "2024-01-01T24:00:00Z"):
        with pytest.raises(ValueError):
            parse_datetime(bad)


def test_ids_get_the_checksum_suffix():
    assert normalize_id("001000000000001") == "001000000000001AAA"
    assert normalize_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert normalize_id("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"
    with pytest.raises(ValueError, match="invalid ID field"):
        normalize_id("001-bad")


@pytest.mark.parametrize(("literal", "n", "start", "end"), [
    ("TODAY", None, date(2024, 6, 15), date(2024, 6, 16)),
    ("YESTERDAY", None, date(2024, 6, 14), date(2024, 6, 15)),
    ("TOMORROW", None, date(2024, 6, 16), date(2024, 6, 17)),
    ("THIS_WEEK", None, date(2024, 6, 9), date(2024, 6, 16)),
    ("LAST_WEEK", None, date(2024, 6, 2), date(2024, 6, 9)),
    ("THIS_MONTH", None, date(2024, 6, 1), date(2024, 7, 1)),
    ("LAST_MONTH", None, date(2024, 5, 1), date(2024, 6, 1)),
    ("NEXT_MONTH", None, date(2024, 7, 1), date(2024, 8, 1)),
    ("THIS_QUARTER", None, date(2024, 4, 1), date(2024, 7, 1)),
    ("THIS_YEAR", None, date(2024, 1, 1), date(2025, 1, 1)),
    ("LAST_YEAR", None, date(2023, 1, 1), date(2024, 1, 1)),
    ("LAST_N_DAYS", 7, date(2024, 6, 8), date(2024, 6, 16)),
    ("NEXT_N_DAYS", 7, date(2024, 6, 16), date(2024, 6, 23)),
    ("LAST_90_DAYS", None, date(2024, 3, 17), date(2024, 6, 16)),
    ("N_DAYS_AGO", 3, date(2024, 6, 12), date(2024, 6, 13)),
    ("LAST_N_MONTHS", 2, date(2024, 4, 1), date(2024, 6, 1)),
    ("NEXT_N_YEARS", 1, date(2025, 1, 1), date(2026, 1, 1)),
])
def test_date_literal_spans(literal, n, start, end):
    assert date_range(literal, n, date(2024, 6, 15)) == (start, end)


def test_date_literal_out_of_range():
    with pytest.raises(ValueError):
        date_range("LAST_N_DAYS", 999_999_999, date(2024, 6, 15))
    error = error_of("SELECT Id FROM Account WHERE CreatedDate = NEXT_N_YEARS:99999")
    assert error.error_code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_double_formatting_is_plain_decimal():
    assert format_double(1500000.0) == "1500000.0"
    assert format_double(250.75) == "250.75"
    assert format_double(1e20) == "100000000000000000000.0"
    assert format_double(1.5e-7) == "0.00000015"
    assert format_double(-3) == "-3.0"
    assert format_double(None) == ""
