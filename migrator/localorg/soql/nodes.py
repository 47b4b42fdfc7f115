"""The parsed query: small immutable nodes, each carrying the 0-based offset of its first character.

The parser builds these from lark's tree so the compiler never touches lark, and every error the
compiler raises can point at the exact spot in the query text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldPath:
    """``Account.Owner.Email``: parts as written, position of the first part."""

    parts: tuple[str, ...]
    position: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class FuncCall:
    """``COUNT()``, ``COUNT(Id)``, ``FIELDS(ALL)``, ``CALENDAR_YEAR(CreatedDate)``..."""

    name: str
    args: tuple[FieldPath, ...]
    position: int
    alias: str | None = None


@dataclass(frozen=True)
class SubquerySelect:
    """``(SELECT ... FROM Contacts)`` in the SELECT list: a parent-to-child relationship query."""

    position: int
    query: Query | None = None


@dataclass(frozen=True)
class TypeOf:
    """``TYPEOF What WHEN Account THEN Name, Phone ... ELSE Name END``: fields per type of a polymorphic lookup."""

    field: FieldPath
    whens: tuple[tuple[str, int, tuple[FieldPath, ...]], ...]  # (object name, its position, fields)
    else_fields: tuple[FieldPath, ...]
    position: int


@dataclass(frozen=True)
class Literal:
    """A value in WHERE. ``kind``: string, number, boolean, null, date, datetime, date_literal.

    ``value`` is str (string, datetime as UTC text), int/float (number), bool, None, a ``date``, or
    for date literals the tuple (NAME, n or None). ``like_pattern`` is the string decoded for LIKE
    (backslash escapes kept for SQLite's ESCAPE '\\').
    """

    kind: str
    value: object
    position: int
    text: str
    like_pattern: str | None = None


@dataclass(frozen=True)
class Comparison:
    """``operand op value``; op is one of = != < <= > >= LIKE IN NOT_IN INCLUDES EXCLUDES."""

    operand: FieldPath | FuncCall
    op: str
    values: tuple[Literal, ...]
    position: int


@dataclass(frozen=True)
class SemiJoin:
    """``Id [NOT] IN (SELECT AccountId FROM Contact WHERE ...)``."""

    operand: FieldPath | FuncCall
    negated: bool
    query: Query
    position: int


@dataclass(frozen=True)
class BoolOp:
    """An AND-chain or OR-chain (SOQL never mixes them without parentheses)."""

    op: str  # "AND" | "OR"
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition
    position: int


Condition = Comparison | SemiJoin | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath | FuncCall  # a function only in aggregate queries (ORDER BY COUNT(Id) DESC)
    descending: bool = False
    nulls: str | None = None  # "FIRST" | "LAST" | None (SQLite default: nulls sort lowest)


@dataclass(frozen=True)
class Query:
    select: tuple[FieldPath | FuncCall | SubquerySelect | TypeOf, ...]
    object_name: str
    object_position: int
    alias: str | None
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
    offset_position: int | None
    position: int
    group_by: tuple[FieldPath, ...] = ()
    having: Condition | None = None
    modes: tuple[tuple[str, int], ...] = ()  # FOR VIEW, FOR REFERENCE, UPDATE TRACKING/VIEWSTAT, FOR UPDATE
