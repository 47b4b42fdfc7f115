"""SOQL text -> query nodes (``nodes.py``), or a SoqlError pointing at the offending character.

lark does the parsing (grammar in ``grammar.py``); this module walks lark's tree once, decodes
literals and translates lark's exceptions into Salesforce's ``unexpected token: 'X'`` errors.
"""

from __future__ import annotations

import re

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import dates
from .errors import MALFORMED_QUERY, NUMBER_OUTSIDE_VALID_RANGE, SoqlError
from .grammar import soql_parser
from .literals import decode_string, parse_date, parse_datetime, parse_number
from .nodes import (
    BoolOp,
    Comparison,
    Condition,
    FieldPath,
    FuncCall,
    Literal,
    Not,
    OrderItem,
    Query,
    SemiJoin,
    SubquerySelect,
    TypeOf,
)

MAX_QUERY_LENGTH = 100_000  # Salesforce's limit on SOQL text
MAX_NESTING = 40  # parentheses/NOT depth; keeps generated SQL far below SQLite's expression-depth cap

# Words Salesforce accepts that the local org does not; named in the error to save users a search.
_UNSUPPORTED_HINTS = {
    "WITH": "WITH", "USING": "USING SCOPE", "ROLLUP": "ROLLUP", "CUBE": "CUBE", "FORMAT": "FORMAT()",
}
_COMPARISON_OPS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def parse_soql(text: str) -> Query:
    if len(text) > MAX_QUERY_LENGTH:
        raise SoqlError(MALFORMED_QUERY, f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH} "
                        "characters.", None, "")
    bad = re.search(r"[\ud800-\udfff\x00]", text)
    if bad:
        raise SoqlError(MALFORMED_QUERY, "invalid character in query", bad.start(), text)
    try:
        tree = soql_parser().parse(text)
    except UnexpectedInput as exc:
        raise _unexpected(text, exc) from None
    except LarkError as exc:  # pragma: no cover - lark raises UnexpectedInput subclasses for bad input
        raise SoqlError(MALFORMED_QUERY, f"unparseable query: {exc}", None, text) from None
    try:
        return _TreeReader().query(tree.children[0], 0)
    except SoqlError as exc:
        raise exc.with_query(text) from None


def _unexpected(text: str, exc: UnexpectedInput) -> SoqlError:
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return SoqlError(MALFORMED_QUERY, "unexpected token: '<EOF>'", len(text), text)
    position = exc.token.start_pos if isinstance(exc, UnexpectedToken) else exc.pos_in_stream
    if isinstance(exc, UnexpectedCharacters) or position is None:
        position = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    position = max(0, min(position, len(text)))
    word = _word_at(text, position)
    previous = re.search(r"([A-Za-z_]\w*)\s*$", text[:position])
    if previous and previous.group(1).upper() == "TYPEOF":  # point at TYPEOF, not the word after it
        position, word = previous.start(1), previous.group(1)
    if not word:
        return SoqlError(MALFORMED_QUERY, "unexpected token: '<EOF>'", position, text)
    detail = f"unexpected token: '{word}'"
    if word.upper() in _UNSUPPORTED_HINTS:
        detail += f" ({_UNSUPPORTED_HINTS[word.upper()]} is not supported by the local org)"
    return SoqlError(MALFORMED_QUERY, detail, position, text)


def _word_at(text: str, position: int) -> str:
    m = re.compile(r"'(?:[^'\\]|\\.)*'|[A-Za-z0-9_.:+-]+|\S").match(text, position)
    return m.group(0)[:80] if m else ""


def _pos(item: Tree | Token) -> int:
    if isinstance(item, Token):
        return item.start_pos or 0
    return item.meta.start_pos if not item.meta.empty else 0


class _TreeReader:
    """Turns lark's tree into nodes; recursion depth is bounded by MAX_NESTING."""

    def query(self, tree: Tree, depth: int) -> Query:
        _select, select_list, _from, object_ref, where, group, having, order, limit, offset, *modes = tree.children
        name_token, alias_token = object_ref.children
        return Query(
            select=tuple(self.select_item(item, depth) for item in select_list.children),
            object_name=str(name_token),
            object_position=_pos(name_token),
            alias=str(alias_token) if alias_token is not None else None,
            where=self.condition(where.children[1], depth + 1) if where is not None else None,
            order_by=tuple(self.order_item(item) for item in order.children[2:]) if order else (),
            limit=self.count_value(limit.children[1]) if limit is not None else None,
            offset=self.count_value(offset.children[1]) if offset is not None else None,
            offset_position=_pos(offset.children[0]) if offset is not None else None,
            position=_pos(tree),
            group_by=tuple(self.field_path(p) for p in group.children[2:]) if group is not None else (),
            having=self.condition(having.children[1], depth + 1) if having is not None else None,
            modes=tuple((" ".join(str(t).upper() for t in mode.children), _pos(mode)) for mode in modes),
        )

    def select_item(self, item: Tree, depth: int) -> FieldPath | FuncCall | SubquerySelect | TypeOf:
        if item.data == "field_path":
            return self.field_path(item)
        if item.data == "select_func":
            func, alias = item.children
            call = self.func(func)
            return FuncCall(call.name, call.args, call.position, str(alias) if alias is not None else None)
        if item.data == "select_typeof":
            return self.type_of(item)
        if depth >= 1:  # Salesforce nests relationship queries one level only
            raise SoqlError(MALFORMED_QUERY, "Nesting of relationship queries is not supported", _pos(item))
        return SubquerySelect(_pos(item), self.query(item.children[0], depth + 1))

    def type_of(self, item: Tree) -> TypeOf:
        _typeof, path, *clauses = item.children
        whens: list[tuple[str, int, tuple[FieldPath, ...]]] = []
        else_fields: tuple[FieldPath, ...] = ()
        for clause in clauses:
            if not isinstance(clause, Tree):
                continue
            if clause.data == "when_clause":
                _when, name, _then, fields = clause.children
                whens.append((str(name), _pos(name), tuple(self.field_path(f) for f in fields.children)))
            elif clause.data == "else_clause":
                else_fields = tuple(self.field_path(f) for f in clause.children[1].children)
        return TypeOf(self.field_path(path), tuple(whens), else_fields, _pos(item))

    def field_path(self, tree: Tree) -> FieldPath:
        return FieldPath(tuple(str(t) for t in tree.children), _pos(tree.children[0]))

    def func(self, tree: Tree) -> FuncCall:
        name, *args = tree.children
        return FuncCall(str(name), tuple(self.field_path(a) for a in args if a is not None), _pos(name))

    def operand(self, tree: Tree) -> FieldPath | FuncCall:
        return self.field_path(tree) if tree.data == "field_path" else self.func(tree)

    def condition(self, tree: Tree, depth: int) -> Condition:
        if depth > MAX_NESTING:
            raise SoqlError(MALFORMED_QUERY, "The WHERE clause is nested too deeply", _pos(tree))
        kind = tree.data
        if kind in ("and_cond", "or_cond"):
            items = [c for c in tree.children if isinstance(c, Tree)]
            return BoolOp("AND" if kind == "and_cond" else "OR",
                          tuple(self.condition(c, depth + 1) for c in items))
        if kind == "not_cond":
            return Not(self.condition(tree.children[1], depth + 1), _pos(tree))
        operand = self.operand(tree.children[0])
        position = _pos(tree)
        if kind in ("in_query", "not_in_query"):
            return SemiJoin(operand, kind == "not_in_query", self.query(tree.children[-1], depth + 1),
                            position)
        if kind == "compare":
            op = _COMPARISON_OPS[str(tree.children[1])]
            return Comparison(operand, op, (self.literal(tree.children[2]),), position)
        if kind == "like":
            return Comparison(operand, "LIKE", (self.literal(tree.children[2], for_like=True),), position)
        values = tuple(self.literal(v) for v in tree.children[-1].children)
        op = {"in_list": "IN", "not_in_list": "NOT_IN", "includes": "INCLUDES", "excludes": "EXCLUDES"}[kind]
        return Comparison(operand, op, values, position)

    def literal(self, tree: Tree, for_like: bool = False) -> Literal:
        token = tree.children[0]
        text, position, kind = str(token), _pos(token), tree.data
        try:
            if kind == "string":
                like = decode_string(text, for_like=True) if for_like else None
                return Literal("string", decode_string(text), position, text, like)
            if kind == "number":
                return Literal("number", parse_number(text), position, text)
            if kind == "date":
                return Literal("date", parse_date(text), position, text)
            if kind == "datetime":
                return Literal("datetime", parse_datetime(text), position, text)
        except ValueError as exc:
            raise SoqlError(MALFORMED_QUERY, str(exc), position) from None
        return self.word(tree, text, position)

    def word(self, tree: Tree, text: str, position: int) -> Literal:
        number_token = tree.children[1]
        upper = text.upper()
        if number_token is None and upper in ("TRUE", "FALSE"):
            return Literal("boolean", upper == "TRUE", position, text)
        if number_token is None and upper == "NULL":
            return Literal("null", None, position, text)
        if not dates.is_date_literal(upper):
            raise SoqlError(MALFORMED_QUERY, f"unexpected token: '{text}'", position)
        if dates.needs_number(upper) != (number_token is not None):
            shown = f"{text}:{number_token}" if number_token is not None else text
            raise SoqlError(MALFORMED_QUERY, f"unexpected token: '{shown}'", position)
        n = None
        if number_token is not None:
            n = self.count_value(number_token)
        full = f"{upper}:{n}" if n is not None else upper
        return Literal("date_literal", (upper, n), position, full)

    def count_value(self, token: Token) -> int:
        """A non-negative integer (LIMIT, OFFSET, the n of LAST_N_DAYS:n)."""
        text = str(token)
        if not text.isdigit():
            raise SoqlError(MALFORMED_QUERY, f"unexpected token: '{text}'", _pos(token))
        if len(text) > 9:
            raise SoqlError(NUMBER_OUTSIDE_VALID_RANGE, f"number out of range: {text}", _pos(token))
        return int(text)

    def order_item(self, tree: Tree) -> OrderItem:
        path, direction, _nulls, position = tree.children
        return OrderItem(
            self.field_path(path) if path.data == "field_path" else self.func(path),
            descending=direction is not None and str(direction.children[0]).upper() == "DESC",
            nulls=str(position.children[0]).upper() if position is not None else None,
        )
