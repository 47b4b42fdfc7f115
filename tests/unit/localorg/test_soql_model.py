"""Differential property: random WHERE trees give the same rows as a small Python model of SOQL's
semantics (case-insensitive text, two-valued logic where null never matches a value, != and NOT IN
keep nulls, LIKE wildcards)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.localorg.soql import compile_query

from .test_soql_support import Store

ROWS = [
    {"Name": "Acme", "Industry": "Banking", "NumberOfEmployees": 10, "Rating": "Hot"},
    {"Name": "acme two", "Industry": None, "NumberOfEmployees": None, "Rating": "Warm"},
    {"Name": "Beta_1", "Industry": "BANKING", "NumberOfEmployees": 0, "Rating": None},
    {"Name": "Gamma%", "Industry": "Energy", "NumberOfEmployees": 250, "Rating": "Cold"},
    {"Name": "delta", "Industry": None, "NumberOfEmployees": -5, "Rating": "hot"},
]
STORE = Store()
IDS = [STORE.insert("Account", **row) for row in ROWS]
TEXT_FIELDS = ("Name", "Industry", "Rating")
TEXT_VALUES = ("Acme", "ACME", "banking", "Energy", "hot", "delta", "zzz", "")
LIKE_PATTERNS = ("a%", "%a", "%ACME%", "Beta\\_1", "Beta_1", "Gamma\\%", "%", "_cme", "d___a")
NUMBERS = (-5, 0, 10, 11, 250)


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: object  # str, int, None, or a tuple for IN lists

    def soql(self) -> str:
        def lit(v: object) -> str:
            return "null" if v is None else f"'{v}'" if isinstance(v, str) else str(v)
        if self.op in ("IN", "NOT IN"):
            return f"{self.field} {self.op} ({', '.join(lit(v) for v in self.value)})"  # type: ignore[union-attr]
        return f"{self.field} {self.op} {lit(self.value)}"

    def holds(self, row: dict) -> bool:
        actual = row[self.field]
        if self.op == "LIKE":
            if actual is None:
                return False
            return re.fullmatch(_like_regex(str(self.value)), actual, re.I | re.S) is not None
        if self.op in ("IN", "NOT IN"):
            hit = any(_equal(actual, v) for v in self.value)  # type: ignore[union-attr]
            return hit if self.op == "IN" else not hit
        if self.op == "=":
            return _equal(actual, self.value)
        if self.op == "!=":
            return not _equal(actual, self.value)
        if actual is None or self.value is None or self.value == "":
            return False
        a, b = (actual.lower(), self.value.lower()) if isinstance(actual, str) else (actual, self.value)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[self.op]


def _like_regex(pattern: str) -> str:
    parts = []
    for token in re.findall(r"\\.|%|_|[^\\%_]+", pattern):
        if token == "%":
            parts.append(".*")
        elif token == "_":
            parts.append(".")
        else:
            parts.append(re.escape(token[1:] if token.startswith("\\") else token))
    return "".join(parts)


def _equal(actual: object, value: object) -> bool:
    if value is None or value == "":
        return actual is None or actual == ""
    if actual is None:
        return False
    if isinstance(actual, str):
        return actual.lower() == str(value).lower()
    return actual == value


@dataclass(frozen=True)
class Node:
    op: str  # AND, OR, NOT
    items: tuple

    def soql(self) -> str:
        if self.op == "NOT":
            return f"NOT ({self.items[0].soql()})"
        return f" {self.op} ".join(f"({item.soql()})" for item in self.items)

    def holds(self, row: dict) -> bool:
        if self.op == "NOT":
            return not self.items[0].holds(row)
        results = [item.holds(row) for item in self.items]
        return all(results) if self.op == "AND" else any(results)


text_leaf = st.builds(Leaf, st.sampled_from(TEXT_FIELDS), st.sampled_from(["=", "!=", "<", ">="]),
                      st.sampled_from((*TEXT_VALUES, None)))
like_leaf = st.builds(Leaf, st.sampled_from(TEXT_FIELDS), st.just("LIKE"), st.sampled_from(LIKE_PATTERNS))
number_leaf = st.builds(Leaf, st.just("NumberOfEmployees"), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                        st.sampled_from((*NUMBERS, None)))
in_leaf = st.builds(Leaf, st.sampled_from(TEXT_FIELDS), st.sampled_from(["IN", "NOT IN"]),
                    st.lists(st.sampled_from((*TEXT_VALUES, None)), min_size=1, max_size=3).map(tuple))
leaves = text_leaf | like_leaf | number_leaf | in_leaf
conditions = st.recursive(
    leaves,
    lambda inner: st.builds(Node, st.just("NOT"), st.tuples(inner))
    | st.builds(Node, st.sampled_from(["AND", "OR"]), st.lists(inner, min_size=2, max_size=3).map(tuple)),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions)
def test_where_matches_the_model(condition):
    query = compile_query(f"SELECT Id FROM Account WHERE {condition.soql()}", STORE.schema)
    got = {row[0] for row in query.iter_rows(STORE.conn)}
    expected = {IDS[i] for i, row in enumerate(ROWS) if condition.holds(row)}
    assert got == expected, condition.soql()


def test_the_model_itself():
    def matching(leaf: Leaf) -> list[str]:
        return [row["Name"] for row in ROWS if leaf.holds(row)]

    assert matching(Leaf("Name", "LIKE", "Beta\\_1")) == ["Beta_1"]
    assert matching(Leaf("Name", "LIKE", "Gamma\\%")) == ["Gamma%"]
    assert matching(Leaf("Name", "LIKE", "_cme")) == ["Acme"]
    assert matching(Leaf("Industry", "!=", "banking")) == ["acme two", "Gamma%", "delta"]
    assert matching(Leaf("Industry", "NOT IN", ("Energy", None))) == ["Acme", "Beta_1"]
    assert matching(Leaf("NumberOfEmployees", "<", 1)) == ["Beta_1", "delta"]
    assert [row["Name"] for row in ROWS if Node("NOT", (Leaf("Rating", "=", "hot"),)).holds(row)] == [
        "acme two", "Beta_1", "Gamma%"]
