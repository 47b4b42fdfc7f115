"""compile_query: SOQL text + org schema -> CompiledQuery (SQLite SQL over the store).

Order of work: parse (``parser``), find the FROM object, resolve the SELECT list (``resolver``;
FIELDS() expands here), compile WHERE (``where``), ORDER BY, LIMIT/OFFSET, then assemble the SELECT
lists for CSV and for REST records (``formatting``). Every refusal is a SoqlError carrying the query
text and the offending position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from ..orgschema import FieldDef, ObjectDef, OrgSchema
from . import formatting
from .errors import (
    INVALID_FIELD,
    INVALID_TYPE,
    MALFORMED_QUERY,
    NUMBER_OUTSIDE_VALID_RANGE,
    UNSUPPORTED_OBJECT,
    SoqlError,
)
from .nodes import FieldPath, FuncCall, Query, SemiJoin, SubquerySelect
from .parser import parse_soql
from .query import CompiledQuery, RecordNode
from .resolver import ResolvedField, Resolver, quote_ident
from .where import FilterCompiler, Fragment, value_kind

MAX_OFFSET = 2000  # Salesforce's cap on OFFSET
MAX_PARAMETERS = 30_000  # below SQLite's 32,766 host-parameter limit
MAX_JOINS = 55  # Salesforce allows 55 child-to-parent relationships; SQLite joins at most 64 tables
MAX_COLUMNS = 1_000  # SQLite returns at most 2,000 columns (hidden record columns come on top)
_AGGREGATES = {"SUM", "AVG", "MIN", "MAX", "GROUPING"}
_KNOWN_FUNCTIONS = _AGGREGATES | {
    "CALENDAR_MONTH", "CALENDAR_QUARTER", "CALENDAR_YEAR", "DAY_IN_MONTH", "DAY_IN_WEEK", "DAY_IN_YEAR",
    "DAY_ONLY", "FISCAL_MONTH", "FISCAL_QUARTER", "FISCAL_YEAR", "HOUR_IN_DAY", "WEEK_IN_MONTH",
    "WEEK_IN_YEAR", "CONVERTTIMEZONE", "CONVERTCURRENCY", "TOLABEL", "FORMAT", "DISTANCE", "GEOLOCATION"}
_COUNT_FIELD = FieldDef(name="expr", type="int")


def compile_query(soql: str, schema: OrgSchema, include_deleted: bool = False, *,
                  today: date | None = None, now: datetime | None = None) -> CompiledQuery:
    """Compile `soql` against `schema`; raises SoqlError for anything the local org cannot run.

    `include_deleted` is queryAll. `today`/`now` pin the clock for relative date literals (default:
    the current UTC date).
    """
    if not isinstance(soql, str):
        raise SoqlError(MALFORMED_QUERY, "the query must be text")
    if today is None:  # a naive `now` is taken as UTC, like every datetime in the store
        moment = now or datetime.now(UTC)
        today = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    try:
        return _Compiler(schema, include_deleted, today).compile(parse_soql(soql))
    except SoqlError as exc:
        raise exc.with_query(soql) from None


@dataclass
class _Column:
    name: str
    resolved: ResolvedField | None  # None for COUNT(field) aggregates
    sql: str
    fd: FieldDef
    position: int


class _Compiler:
    def __init__(self, schema: OrgSchema, include_deleted: bool, today: date):
        self.schema = schema
        self.include_deleted = include_deleted
        self.today = today

    def compile(self, query: Query) -> CompiledQuery:
        root = self._object(query)
        resolver = Resolver(self.schema, root, "t0", _qualifiers(query, root), self.include_deleted)
        columns, is_count = self._select(query, resolver, root)
        has_aggregate = is_count or any(c.resolved is None for c in columns)
        conditions: list[Fragment] = [] if self.include_deleted else [('t0."IsDeleted" = 0', [])]
        filter_joins: set[str] = set()
        if query.where is not None:
            filters = FilterCompiler(resolver, self.today, self._semi_join)
            conditions.append(filters.compile(query.where))
            filter_joins = filters.joins_used
        order_sql = self._order(query, resolver, has_aggregate)
        self._check_paging(query)
        if len(resolver.joins) > MAX_JOINS:
            raise SoqlError(MALFORMED_QUERY, f"No more than {MAX_JOINS} child-to-parent relationships can be "
                            "specified in a query.", query.position)
        if len(columns) > MAX_COLUMNS:
            raise SoqlError(MALFORMED_QUERY, f"No more than {MAX_COLUMNS} fields can be selected by the "
                            "local org", query.position)
        if sum(len(p) for _, p in conditions) > MAX_PARAMETERS:
            raise SoqlError(MALFORMED_QUERY, "Query has too many values in its filters", query.position)
        return self._assemble(query, root, resolver, columns, is_count, has_aggregate, conditions,
                              frozenset(filter_joins), order_sql)

    def _object(self, query: Query) -> ObjectDef:
        root = self.schema.get(query.object_name)
        if root is None or not root.queryable:
            raise SoqlError(INVALID_TYPE, UNSUPPORTED_OBJECT.format(name=query.object_name),
                            query.object_position)
        return root

    # -- SELECT -----------------------------------------------------------------------------------
    def _select(self, query: Query, resolver: Resolver, root: ObjectDef) -> tuple[list[_Column], bool]:
        columns: list[_Column] = []
        plain_field: FieldPath | None = None
        is_count = False
        for item in query.select:
            if isinstance(item, SubquerySelect):
                raise SoqlError(MALFORMED_QUERY, "Parent-to-child relationship subqueries are not supported "
                                "by the local org", item.position)
            if isinstance(item, FieldPath):
                rf = resolver.resolve(item)
                columns.append(_Column(rf.column_name, rf, rf.sql, rf.field, item.position))
                plain_field = plain_field or item
                continue
            name = item.name.upper()
            if name == "COUNT" and not item.args:
                if len(query.select) > 1:
                    raise SoqlError(MALFORMED_QUERY, "COUNT() must be the only element in the SELECT list",
                                    item.position)
                is_count = True
            elif name in ("COUNT", "COUNT_DISTINCT"):
                columns.append(self._count(item, resolver, sum(c.resolved is None for c in columns)))
            elif name == "FIELDS":
                for path in _fields_function(item, root):
                    rf = resolver.resolve(path)
                    columns.append(_Column(rf.column_name, rf, rf.sql, rf.field, item.position))
                    plain_field = plain_field or FieldPath(path.parts, item.position)
            elif name in _KNOWN_FUNCTIONS:
                raise SoqlError(MALFORMED_QUERY, f"{item.name}() is not supported by the local org",
                                item.position)
            else:
                raise SoqlError(MALFORMED_QUERY, f"Unknown function: {item.name}", item.position)
        if any(c.resolved is None for c in columns) and plain_field is not None:
            raise SoqlError(MALFORMED_QUERY, f"Field must be grouped or aggregated: {plain_field.text}",
                            plain_field.position)
        seen: set[str] = set()
        for column in columns:
            if column.name.lower() in seen:
                raise SoqlError(MALFORMED_QUERY, f"duplicate field selected: {column.name}", column.position)
            seen.add(column.name.lower())
        return columns, is_count

    def _count(self, item: FuncCall, resolver: Resolver, index: int) -> _Column:
        if len(item.args) != 1:
            raise SoqlError(MALFORMED_QUERY, f"{item.name}() takes one field", item.position)
        rf = resolver.resolve(item.args[0])
        distinct = "DISTINCT " if item.name.upper() == "COUNT_DISTINCT" else ""
        return _Column(item.alias or f"expr{index}", None, f"COUNT({distinct}{rf.sql})", _COUNT_FIELD,
                       item.position)

    # -- WHERE helpers ----------------------------------------------------------------------------
    def _semi_join(self, semi: SemiJoin, outer: ResolvedField) -> Fragment:
        inner = semi.query
        if value_kind(outer.field) != "id":
            raise SoqlError(MALFORMED_QUERY, f"Semi join sub-selects need an Id or reference field, not "
                            f"'{outer.field.name}'", semi.position)
        if inner.order_by or inner.limit is not None or inner.offset is not None:
            raise SoqlError(MALFORMED_QUERY, "ORDER BY, LIMIT and OFFSET are not supported in semi join "
                            "sub-selects by the local org", inner.position)
        if len(inner.select) != 1 or not isinstance(inner.select[0], FieldPath):
            raise SoqlError(MALFORMED_QUERY, "A semi join sub-select must select exactly one Id or reference "
                            "field", inner.position)
        obj = self._object(inner)
        sub = Resolver(self.schema, obj, "s0", _qualifiers(inner, obj), False, join_prefix="sj")
        selected = sub.resolve(inner.select[0])
        if value_kind(selected.field) != "id":
            raise SoqlError(MALFORMED_QUERY, "A semi join sub-select must select an Id or reference field",
                            inner.select[0].position)
        where = ['s0."IsDeleted" = 0', f"{selected.sql} IS NOT NULL"]
        params: list[object] = []
        if inner.where is not None:
            sql, params = FilterCompiler(sub, self.today, None).compile(inner.where)
            where.append(sql)
        if len(sub.joins) > MAX_JOINS:
            raise SoqlError(MALFORMED_QUERY, f"No more than {MAX_JOINS} child-to-parent relationships can be "
                            "specified in a query.", inner.position)
        joins = " ".join(j.sql for j in sub.joins)
        subquery = (f"SELECT {selected.sql} FROM {quote_ident(obj.name)} AS s0 {joins} "
                    f"WHERE {' AND '.join(where)}")
        if semi.negated:
            return f"({outer.sql} IS NULL OR {outer.sql} NOT IN ({subquery}))", params
        return f"{outer.sql} IN ({subquery})", params

    # -- ORDER BY, LIMIT, OFFSET ------------------------------------------------------------------
    def _order(self, query: Query, resolver: Resolver, has_aggregate: bool) -> str:
        terms: list[str] = []
        for item in query.order_by:
            if has_aggregate:
                raise SoqlError(MALFORMED_QUERY, f"Ordered field must be grouped or aggregated: "
                                f"{item.path.text}", item.path.position)
            rf = resolver.resolve(item.path)
            if value_kind(rf.field) == "base64":
                raise SoqlError(INVALID_FIELD, f"field '{rf.field.name}' can not be sorted in a query call",
                                item.path.position)
            term = rf.sql + (" COLLATE NOCASE" if value_kind(rf.field) == "text" else "")
            term += " DESC" if item.descending else " ASC"
            if item.nulls:
                term += f" NULLS {item.nulls}"
            terms.append(term)
        if terms and 't0."Id" ASC' not in terms and 't0."Id" DESC' not in terms:
            terms.append('t0."Id" ASC')  # a total order, so LIMIT/OFFSET pages are stable
        return ", ".join(terms)

    def _check_paging(self, query: Query) -> None:
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SoqlError(NUMBER_OUTSIDE_VALID_RANGE, f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                            query.offset_position)

    # -- assembly ---------------------------------------------------------------------------------
    def _assemble(self, query: Query, root: ObjectDef, resolver: Resolver, columns: list[_Column],
                  is_count: bool, has_aggregate: bool, conditions: list[Fragment],
                  filter_joins: frozenset[str], order_sql: str) -> CompiledQuery:
        select_csv = tuple(formatting.csv_sql(c.sql, c.fd) for c in columns)
        csv_converters = tuple((i, conv) for i, c in enumerate(columns)
                               if (conv := formatting.csv_converter(c.fd)) is not None)
        select_typed = tuple(c.sql for c in columns)
        hidden: list[str] = []
        plan = None
        if not has_aggregate:
            plan = _record_plan(root, columns, resolver, len(select_typed), hidden)
        return CompiledQuery(
            object_name=root.name,
            columns=tuple(c.name for c in columns),
            is_count=is_count,
            has_aggregate=has_aggregate,
            uses_offset=query.offset is not None,
            root_alias="t0",
            select_csv=select_csv,
            csv_converters=csv_converters,
            select_typed=select_typed,
            select_hidden=tuple(hidden),
            record_plan=plan,
            joins=tuple(resolver.joins),
            filter_joins=filter_joins,
            conditions=tuple(conditions),
            order_sql=order_sql,
            limit=query.limit,
            offset=query.offset,
        )


def _qualifiers(query: Query, root: ObjectDef) -> tuple[str, ...]:
    return tuple(n.lower() for n in (query.alias, root.name) if n)


def _fields_function(item: FuncCall, root: ObjectDef) -> list[FieldPath]:
    groups = {"ALL": lambda f: True, "STANDARD": lambda f: not f.custom, "CUSTOM": lambda f: f.custom}
    which = item.args[0].text.upper() if len(item.args) == 1 else ""
    if which not in groups or item.alias:
        raise SoqlError(MALFORMED_QUERY, "FIELDS() takes one of ALL, STANDARD or CUSTOM", item.position)
    return [FieldPath((f.name,), item.position) for f in root.fields.values()
            if groups[which](f) and f.type != "base64"]


def _record_plan(root: ObjectDef, columns: list[_Column], resolver: Resolver, first_hidden: int,
                 hidden: list[str]) -> RecordNode:
    """Nest the selected columns by relationship path; hidden columns carry each record's Id and type."""

    def hidden_column(sql: str) -> int:
        hidden.append(sql)
        return first_hidden + len(hidden) - 1

    root_id = hidden_column('t0."Id"')
    tree: dict[tuple[str, ...], list] = {(): []}
    for index, column in enumerate(columns):
        assert column.resolved is not None
        names = column.resolved.relationship
        for depth in range(len(names)):
            prefix = names[:depth + 1]
            if prefix not in tree:
                tree[prefix] = []
                tree[names[:depth]].append(("node", prefix))
        tree[names].append(("field", index, column))

    def build(prefix: tuple[str, ...]) -> RecordNode:
        if prefix:
            rel = resolver.relationships[tuple(n.lower() for n in prefix)]
            id_index = hidden_column(rel.id_sql)
            polymorphic = len(rel.targets) > 1
            type_index = hidden_column(rel.type_sql) if polymorphic else None
            fixed = rel.targets[0][1].name
        else:
            id_index, type_index, fixed = root_id, None, root.name
        entries = []
        for entry in tree[prefix]:
            if entry[0] == "node":
                entries.append((entry[1][-1], build(entry[1]), None))
            else:
                _, index, column = entry
                entries.append((column.fd.name, index, formatting.json_converter(column.fd)))
        return RecordNode(id_index, type_index, fixed, tuple(entries))

    return build(())
