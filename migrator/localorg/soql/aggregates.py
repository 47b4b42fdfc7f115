"""Aggregate functions and GROUP BY: COUNT(field), COUNT_DISTINCT, SUM, AVG, MIN, MAX, grouped fields, HAVING.

An aggregate query answers ``AggregateResult`` records: each grouped field under its field name
(``Account.Name`` is ``Name``), each aggregate under its alias or ``expr0``, ``expr1``, ... in select
order. As in Salesforce: a selected field must be grouped or aggregated; SUM and AVG need a number;
MIN and MAX take numbers, dates, datetimes, text and Ids; a double, currency, percent, datetime,
long text or binary field cannot be grouped (nor can a multi-select picklist be aggregated). Text
groups compare case-insensitively (the column collation), like Salesforce's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..orgschema import NUMBER_TYPES, FieldDef
from .errors import INVALID_FIELD, MALFORMED_QUERY, SoqlError
from .nodes import FieldPath, FuncCall
from .resolver import ResolvedField, Resolver
from .where import value_kind

AGGREGATE_FUNCTIONS = frozenset({"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"})
COUNT_FIELD = FieldDef(name="expr", type="int")
DOUBLE_FIELD = FieldDef(name="expr", type="double", precision=18, scale=6)
_NOT_GROUPABLE = frozenset(NUMBER_TYPES | {"textarea", "datetime", "base64"})
_KINDS = {"SUM": {"number", "int"}, "AVG": {"number", "int"},
          "MIN": {"number", "int", "date", "datetime", "text", "id"},
          "MAX": {"number", "int", "date", "datetime", "text", "id"},
          "COUNT": {"number", "int", "date", "datetime", "text", "id", "boolean"},
          "COUNT_DISTINCT": {"number", "int", "date", "datetime", "text", "id", "boolean"}}


@dataclass(frozen=True)
class Aggregate:
    """One aggregate expression: its SQL, the field type its value has, and the field it reads."""

    sql: str
    result: FieldDef
    source: ResolvedField


def aggregate(call: FuncCall, resolver: Resolver) -> Aggregate:
    name = call.name.upper()
    if len(call.args) != 1:
        raise SoqlError(MALFORMED_QUERY, f"{call.name}() takes one field", call.position)
    rf = resolver.resolve(call.args[0])
    kind = value_kind(rf.field)
    if kind not in _KINDS[name] or (rf.field.type in ("textarea", "multipicklist") and name != "COUNT"):
        raise SoqlError(MALFORMED_QUERY, f"field {rf.field.name} does not support aggregate operator {name}",
                        call.args[0].position)
    if name in ("COUNT", "COUNT_DISTINCT"):
        distinct = "DISTINCT " if name == "COUNT_DISTINCT" else ""
        return Aggregate(f"COUNT({distinct}{rf.sql})", COUNT_FIELD, rf)
    if name in ("SUM", "AVG"):
        return Aggregate(f"{name}({rf.sql})", DOUBLE_FIELD, rf)
    return Aggregate(f"{name}({rf.sql})", rf.field, rf)


def grouped(path: FieldPath, resolver: Resolver) -> ResolvedField:
    rf = resolver.resolve(path)
    if rf.field.type in _NOT_GROUPABLE or (rf.field.calculated and rf.field.name == "Name"):
        raise SoqlError(INVALID_FIELD, f"field '{rf.field.name}' can not be grouped in a query call", path.position)
    return rf


def having_operand(resolver: Resolver):
    """The HAVING compiler's view of a function: an aggregate as a field of its result type."""

    def operand(call: FuncCall) -> ResolvedField:
        if call.name.upper() not in AGGREGATE_FUNCTIONS:
            raise SoqlError(MALFORMED_QUERY, f"{call.name}() in HAVING is not supported by the local org",
                            call.position)
        found = aggregate(call, resolver)
        return ResolvedField(found.sql, found.result, (), found.source.joins)

    return operand
