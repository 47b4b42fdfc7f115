"""WHERE conditions -> a parameterised SQLite boolean expression with Salesforce's semantics.

Salesforce differs from SQL in ways migrations notice, so the generated SQL makes them explicit:
- text comparisons are case-insensitive (``COLLATE NOCASE``; SQLite folds ASCII letters only);
- ``!=`` and ``NOT IN`` include rows where the field is null (two-valued logic), and ``NOT x`` is
  true when ``x`` is unknown: every NOT is ``NOT coalesce(x, 0)``;
- ``= ''`` and ``= null`` mean the same on text fields (Salesforce has no empty strings);
- 15-character Id literals match the stored 18-character Ids; Id comparisons stay binary so the
  primary-key index is used;
- relative date literals are whole-day spans, compared in UTC for datetime fields.
AND/OR chains are emitted as balanced trees so long chains stay shallow for SQLite's parser.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ..orgschema import NUMBER_TYPES, FieldDef
from . import dates
from .errors import (
    INVALID_FIELD,
    INVALID_QUERY_FILTER_OPERATOR,
    MALFORMED_QUERY,
    NUMBER_OUTSIDE_VALID_RANGE,
    SoqlError,
)
from .literals import midnight_utc, normalize_id
from .nodes import BoolOp, Comparison, Condition, FuncCall, Literal, Not, SemiJoin
from .resolver import ResolvedField, Resolver

Fragment = tuple[str, list[object]]
SemiJoinCompiler = Callable[[SemiJoin, ResolvedField], Fragment]
FunctionOperand = Callable[[FuncCall], ResolvedField]

_SOAP_NAMES = {"id": "id", "boolean": "boolean", "int": "integer", "number": "double", "date": "date",
               "datetime": "dateTime", "text": "string"}
MAX_LIKE_PATTERN_BYTES = 50_000  # SQLite refuses longer LIKE patterns
_RANGE_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


def value_kind(fd: FieldDef) -> str:
    """The comparison family of a field type: id, boolean, int, number, date, datetime, base64, text."""
    if fd.type in ("id", "reference"):
        return "id"
    if fd.type in NUMBER_TYPES:
        return "number"
    if fd.type == "long":
        return "int"
    if fd.type in ("boolean", "int", "date", "datetime", "base64"):
        return fd.type
    return "text"


class FilterCompiler:
    def __init__(self, resolver: Resolver, today: date, semi_join: SemiJoinCompiler | None,
                 functions: FunctionOperand | None = None):
        self.resolver = resolver
        self.today = today
        self.semi_join = semi_join
        self.functions = functions  # HAVING: aggregates as operands
        self.joins_used: set[str] = set()  # join aliases the filter needs (COUNT() skips the others)

    def compile(self, condition: Condition) -> Fragment:
        if isinstance(condition, BoolOp):
            return _balanced([self.compile(item) for item in condition.items], condition.op)
        if isinstance(condition, Not):
            sql, params = self.compile(condition.item)
            return f"NOT coalesce({sql}, 0)", params
        if isinstance(condition.operand, FuncCall):
            if self.functions is None or isinstance(condition, SemiJoin):
                raise SoqlError(MALFORMED_QUERY, f"{condition.operand.name}() in WHERE is not supported by the "
                                "local org", condition.operand.position)
            resolved = self.functions(condition.operand)
            self.joins_used |= resolved.joins
            return self._comparison(condition, resolved)
        resolved = self.resolver.resolve(condition.operand)
        self.joins_used |= resolved.joins
        if isinstance(condition, SemiJoin):
            if self.semi_join is None:
                raise SoqlError(MALFORMED_QUERY, "Nesting of semi join sub-selects is not supported",
                                condition.query.position)
            return self.semi_join(condition, resolved)
        return self._comparison(condition, resolved)

    def _comparison(self, c: Comparison, rf: ResolvedField) -> Fragment:
        kind = value_kind(rf.field)
        if kind == "base64":
            raise SoqlError(INVALID_FIELD, f"field '{rf.field.name}' can not be filtered in a query call",
                            c.position)
        e = rf.sql
        coll = " COLLATE NOCASE" if kind == "text" else ""
        if c.op == "LIKE":
            return self._like(c, rf, kind)
        if c.op in ("INCLUDES", "EXCLUDES"):
            return self._includes(c, rf)
        if c.op in ("IN", "NOT_IN"):
            return self._in(c, rf, kind, coll)
        literal = c.values[0]
        if literal.kind == "date_literal":
            return self._date_span(c.op, literal, rf, kind)
        value = None if literal.kind == "null" else self._value(literal, rf, kind)
        if value is None or (value == "" and kind in ("text", "id")):
            if c.op == "=":
                return _is_null(e, kind), []
            if c.op == "!=":
                return f"NOT ({_is_null(e, kind)})", []
            return "0", []
        if c.op == "=":
            return f"{e} = ?{coll}", [value]
        if c.op == "!=":
            return f"{e} IS NOT ?{coll}", [value]
        return f"{e} {_RANGE_OPS[c.op]} ?{coll}", [value]

    def _value(self, literal: Literal, rf: ResolvedField, kind: str) -> object:
        expected = {"text": "string", "id": "string", "boolean": "boolean", "int": "number",
                    "number": "number", "date": "date", "datetime": "datetime"}[kind]
        if literal.kind != expected:
            quoted = "should be enclosed in quotes" if expected == "string" else \
                "should not be enclosed in quotes"
            raise SoqlError(INVALID_FIELD, f"value of filter criterion for field '{rf.field.name}' must be "
                            f"of type {_SOAP_NAMES[kind]} and {quoted}", literal.position)
        if kind == "id" and literal.value != "":
            try:
                return normalize_id(str(literal.value))
            except ValueError as exc:
                raise SoqlError(INVALID_QUERY_FILTER_OPERATOR, str(exc), literal.position) from None
        if kind == "boolean":
            return 1 if literal.value else 0
        if kind == "date":
            return literal.value.isoformat()  # type: ignore[union-attr]
        return literal.value

    def _like(self, c: Comparison, rf: ResolvedField, kind: str) -> Fragment:
        literal = c.values[0]
        if kind != "text":
            raise SoqlError(INVALID_QUERY_FILTER_OPERATOR, f"invalid operator on {rf.field.type} field "
                            f"'{rf.field.name}': LIKE needs a text field", c.position)
        if literal.kind == "null":
            return "0", []
        self._value(literal, rf, kind)  # type check
        if len(str(literal.like_pattern).encode("utf-8")) > MAX_LIKE_PATTERN_BYTES:
            raise SoqlError(MALFORMED_QUERY, "LIKE pattern is too long", literal.position)
        return f"{rf.sql} LIKE ? ESCAPE '\\'", [literal.like_pattern]

    def _includes(self, c: Comparison, rf: ResolvedField) -> Fragment:
        if rf.field.type != "multipicklist":
            raise SoqlError(INVALID_QUERY_FILTER_OPERATOR, "includes or excludes operator only valid on "
                            f"multipicklist field '{rf.field.name}'", c.position)
        any_of: list[Fragment] = []
        for literal in c.values:
            value = self._value(literal, rf, "text")
            parts = [p.strip().lower() for p in str(value).split(";") if p.strip()]
            all_of = [(f"instr(';' || lower({rf.sql}) || ';', ?) > 0", [f";{p};"]) for p in parts]
            any_of.append(_balanced(all_of, "AND") if all_of else ("0", []))
        sql, params = _balanced(any_of, "OR")
        if c.op == "EXCLUDES":
            return f"({rf.sql} IS NULL OR NOT coalesce({sql}, 0))", params
        return sql, params

    def _in(self, c: Comparison, rf: ResolvedField, kind: str, coll: str) -> Fragment:
        plain: list[object] = []
        alternatives: list[Fragment] = []
        wants_null = False
        for literal in c.values:
            if literal.kind == "date_literal":
                alternatives.append(self._date_span("=", literal, rf, kind))
                continue
            value = None if literal.kind == "null" else self._value(literal, rf, kind)
            if value is None or (value == "" and kind in ("text", "id")):
                wants_null = True
            else:
                plain.append(value)
        if plain:
            alternatives.insert(0, (f"{rf.sql}{coll} IN ({', '.join('?' * len(plain))})", plain))
        if wants_null:
            alternatives.append((_is_null(rf.sql, kind), []))
        sql, params = _balanced(alternatives, "OR")
        return (sql, params) if c.op == "IN" else (f"NOT coalesce({sql}, 0)", params)

    def _date_span(self, op: str, literal: Literal, rf: ResolvedField, kind: str) -> Fragment:
        if kind not in ("date", "datetime"):
            self._value(literal, rf, kind)  # raises the type error
        name, n = literal.value  # type: ignore[misc]
        try:
            start, end = dates.date_range(name, n, self.today)
        except ValueError as exc:
            raise SoqlError(NUMBER_OUTSIDE_VALID_RANGE, str(exc), literal.position) from None
        lo, hi = (midnight_utc(start), midnight_utc(end)) if kind == "datetime" else \
            (start.isoformat(), end.isoformat())
        e = rf.sql
        return {
            "=": (f"({e} >= ? AND {e} < ?)", [lo, hi]),
            "!=": (f"({e} IS NULL OR {e} < ? OR {e} >= ?)", [lo, hi]),
            "<": (f"{e} < ?", [lo]),
            "<=": (f"{e} < ?", [hi]),
            ">": (f"{e} >= ?", [hi]),
            ">=": (f"{e} >= ?", [lo]),
        }[op]


def _is_null(e: str, kind: str) -> str:
    return f"({e} IS NULL OR {e} = '')" if kind == "text" else f"{e} IS NULL"


def _balanced(fragments: list[Fragment], op: str) -> Fragment:
    if len(fragments) == 1:
        return fragments[0]
    mid = len(fragments) // 2
    left_sql, left_params = _balanced(fragments[:mid], op)
    right_sql, right_params = _balanced(fragments[mid:], op)
    return f"({left_sql} {op} {right_sql})", left_params + right_params
