"""where filters: a whitelisted expression language evaluated on whole columns."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.errors import SourceDataError, UsageError
from migrator.plan.where import WhereSyntaxError, compile_where

DATA = pd.DataFrame({
    "status": ["active", "deleted", "", "Active", "pending"],
    "amount": ["10", "5.5", "", "abc", " 7 "],
    "first name": ["Al", "", "x", "y", "Zoë"],
    "country": ["FR", "DE", "US", "fr", "ES"],
    "note": ["a=b", "x", "`y`", "", "true"],
}, dtype="str")
VARS = {"min": "6", "env": "prod", "code": "FR"}


def mask(text: str) -> list[bool]:
    result = compile_where(text).mask(DATA, VARS)
    assert result.index.equals(DATA.index) and result.dtype == bool
    return result.tolist()


@pytest.mark.parametrize(("text", "expected"), [
    ("status != 'deleted'", [True, False, True, True, True]),
    ("status == 'active'", [True, False, False, False, False]),
    ("status = 'active'", [True, False, False, False, False]),
    ("note == 'a=b'", [True, False, False, False, False]),
    ("note == '`y`'", [False, False, True, False, False]),
    ("amount > 6", [True, False, False, False, True]),
    ("amount >= number(vars.min)", [True, False, False, False, True]),
    ("6 < amount", [True, False, False, False, True]),
    ("1 < amount < 8", [False, True, False, False, True]),
    ("amount == 10.0", [True, False, False, False, False]),
    ("amount != 10", [False, True, True, True, True]),
    ("amount > '6'", [False, False, False, True, False]),  # text comparison: "10" < "6"
    ("`first name` == 'Al' or blank(`first name`)", [True, True, False, False, False]),
    ("country in ('FR', 'DE')", [True, True, False, False, False]),
    ("lower(country) not in ['fr', 'es']", [False, True, True, False, False]),
    ("upper(country) == vars.code", [True, False, False, True, False]),
    ("country == vars['code']", [True, False, False, False, False]),
    ("amount in (10, 7)", [True, False, False, False, True]),
    ("amount in (10, null)", [True, False, True, False, False]),
    ("amount == null", [False, False, True, False, False]),
    ("amount != None", [True, True, False, True, True]),
    ("not blank(status) and not (status == 'deleted')", [True, False, False, True, True]),
    ("len(status) > 6", [False, True, False, False, True]),
    ("trim(amount) == '7'", [False, False, False, False, True]),
    ("note == true", [False, False, False, False, True]),
    ("vars.env == 'prod'", [True] * 5),
    ("vars.env == 'test' or status == 'pending'", [False, False, False, False, True]),
    ("True", [True] * 5),
    ("  status ==\n  'active'  ", [True, False, False, False, False]),
])
def test_semantics(text, expected):
    assert mask(text) == expected


def test_columns_and_variables():
    flt = compile_where("`first name` == vars.name and lower(status) in ('a', vars['b']) or x > 1")
    assert flt.columns == {"first name", "status", "x"}
    assert flt.variables == {"name", "b"}


@pytest.mark.parametrize(("text", "fragment", "offset"), [
    ("status ==", "invalid syntax", 9),
    ("status == 'a' and", "invalid syntax", 17),
    ("first name == 'x'", "backticks", 1),
    ("`first name == 'x'", "unclosed backtick", 1),
    ("status", "must be a condition", 1),
    ("not amount", "`not` needs a condition", 1),
    ("a == 1 and b", "combine conditions", 1),
    ("__import__('os').system('x') == 1", "unknown function", 1),
    ("open('f') == 'x'", "unknown function 'open'", 1),
    ("a.__class__ == 1", "only vars.NAME", 1),
    ("a[0] == 'x'", "only vars.NAME", 1),
    ("[x for x in y]", "ListComp is not allowed", 1),
    ("(lambda: 1)() == 1", "unknown function", 1),
    ("a == b if c else d", "IfExp is not allowed", 1),
    ("blank(a) > 3", "compare text or numbers only", 1),
    ("a in b", "needs a list", 6),
    ("a in (b, 'x')", "items of an `in` list", 7),
    ("lower(a, b) == 'x'", "exactly one argument", 1),
    ("a is None", "use == and !=", 1),
    ("f'{a}' == 'x'", "JoinedStr is not allowed", 1),
    ("", "empty", 1),
    ("status == 'x' and `` == 'y'", "empty column name", 19),
])
def test_syntax_errors(text, fragment, offset):
    with pytest.raises(WhereSyntaxError) as info:
        compile_where(text)
    assert fragment in info.value.message
    assert info.value.offset == offset


def test_backticks_inside_errors_are_shown_as_written():
    with pytest.raises(WhereSyntaxError) as info:
        compile_where("`first name`.x == 1")
    assert "`first name`" in info.value.message and "__col" not in info.value.message


def test_missing_columns_and_variables_at_evaluation():
    with pytest.raises(SourceDataError, match="'nope'"):
        compile_where("nope == 'x'").mask(DATA, VARS)
    with pytest.raises(UsageError, match="'other'"):
        compile_where("status == vars.other").mask(DATA, VARS)


def test_empty_frames():
    empty = DATA.iloc[0:0]
    assert compile_where("amount > 3 and status == 'x'").mask(empty, VARS).tolist() == []


values = st.text(alphabet="ab 1.5-é", max_size=5)


@settings(max_examples=80, deadline=None)
@given(st.lists(values, min_size=1, max_size=30), values, st.floats(-10, 10, allow_nan=False))
def test_matches_a_plain_python_reference(column, literal, number):
    frame = pd.DataFrame({"c": column}, dtype="str")

    def as_number(text):
        try:
            return float(text.strip())
        except ValueError:
            return None

    text_mask = compile_where(f"c == {literal!r} or lower(c) < {literal!r}").mask(frame, {}).tolist()
    assert text_mask == [v == literal or v.lower() < literal for v in column]
    number_mask = compile_where(f"c >= {number!r}").mask(frame, {}).tolist()
    assert number_mask == [as_number(v) is not None and as_number(v) >= number for v in column]
