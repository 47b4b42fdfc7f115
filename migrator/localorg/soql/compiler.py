"""compile_query: SOQL text + org schema -> CompiledQuery (SQLite SQL over the store).

Order of work: parse (``parser``), find the FROM object, resolve the SELECT list (``resolver``;
FIELDS() expands here; aggregates and GROUP BY in ``aggregates``; TYPEOF and the record plan in
``plan``; parent-to-child subqueries compile as queries of their own on the child object), compile
WHERE and HAVING (``where``), ORDER BY, LIMIT/OFFSET, then assemble the SELECT lists for CSV and for
REST records (``formatting``). Every refusal is a SoqlError carrying the query text and the
offending position.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from ..orgschema import FieldDef, ObjectDef, OrgSchema, child_relationship_name
from . import formatting
from .aggregates import AGGREGATE_FUNCTIONS, aggregate, grouped, having_operand
from .errors import (
    INVALID_FIELD,
    INVALID_TYPE,
    MALFORMED_QUERY,
    NUMBER_OUTSIDE_VALID_RANGE,
    UNSUPPORTED_OBJECT,
    SoqlError,
)
from .nodes import FieldPath, FuncCall, Query, SemiJoin, SubquerySelect, TypeOf
from .parser import parse_soql
from .plan import Selected, TypeOfSelect, compile_typeof, record_plan
from .query import ChildQuery, CompiledQuery
from .resolver import ResolvedField, Resolver, quote_ident
from .where import FilterCompiler, Fragment, value_kind

MAX_OFFSET = 2000  # Salesforce's cap on OFFSET
MAX_PARAMETERS = 30_000  # below SQLite's 32,766 host-parameter limit
MAX_JOINS = 55  # Salesforce allows 55 child-to-parent relationships; SQLite joins at most 64 tables
MAX_COLUMNS = 1_000  # SQLite returns at most 2,000 columns (hidden record columns come on top)
MAX_SUBQUERIES = 20  # Salesforce: up to 20 parent-to-child relationship queries
_KNOWN_FUNCTIONS = {
    "GROUPING", "CALENDAR_MONTH", "CALENDAR_QUARTER", "CALENDAR_YEAR", "DAY_IN_MONTH", "DAY_IN_WEEK",
    "DAY_IN_YEAR", "DAY_ONLY", "FISCAL_MONTH", "FISCAL_QUARTER", "FISCAL_YEAR", "HOUR_IN_DAY", "WEEK_IN_MONTH",
    "WEEK_IN_YEAR", "CONVERTTIMEZONE", "CONVERTCURRENCY", "TOLABEL", "FORMAT", "DISTANCE", "GEOLOCATION"}
_NO_ORDER_WITH_LOCKING = "ORDER BY cannot be used with FOR UPDATE: a query that locks records has no order"


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
    resolved: ResolvedField | None  # None for aggregates
    sql: str
    fd: FieldDef
    position: int


@dataclass
class _Selection:
    columns: list[_Column] = field(default_factory=list)
    typeofs: list[TypeOfSelect] = field(default_factory=list)
    children: list[ChildQuery] = field(default_factory=list)
    is_count: bool = False
    unaliased: int = 0  # aggregates without an alias so far: Salesforce names them expr0, expr1, ...

    @property
    def aggregates(self) -> int:
        return sum(c.resolved is None for c in self.columns)


class _Compiler:
    def __init__(self, schema: OrgSchema, include_deleted: bool, today: date):
        self.schema = schema
        self.include_deleted = include_deleted
        self.today = today

    def compile(self, query: Query, qualifiers: tuple[str, ...] = ()) -> CompiledQuery:
        root = self._object(query)
        resolver = Resolver(self.schema, root, "t0", (*_qualifiers(query, root), *qualifiers), self.include_deleted)
        selection = self._select(query, resolver, root)
        groups = [grouped(path, resolver) for path in query.group_by]
        self._check_grouping(query, selection, groups)
        has_aggregate = selection.is_count or selection.aggregates > 0 or bool(groups)
        conditions: list[Fragment] = [] if self.include_deleted else [('t0."IsDeleted" = 0', [])]
        filter_joins: set[str] = set()
        if query.where is not None:
            filters = FilterCompiler(resolver, self.today, self._semi_join)
            conditions.append(filters.compile(query.where))
            filter_joins = filters.joins_used
        having = None
        if query.having is not None:
            if not has_aggregate:
                raise SoqlError(MALFORMED_QUERY, "HAVING needs a GROUP BY or an aggregate query", query.position)
            having = FilterCompiler(resolver, self.today, None, having_operand(resolver)).compile(query.having)
        order_sql = self._order(query, resolver, has_aggregate, groups)
        self._check_paging(query)
        self._check_modes(query)
        if len(resolver.joins) > MAX_JOINS:
            raise SoqlError(MALFORMED_QUERY, f"No more than {MAX_JOINS} child-to-parent relationships can be "
                            "specified in a query.", query.position)
        if len(selection.columns) > MAX_COLUMNS:
            raise SoqlError(MALFORMED_QUERY, f"No more than {MAX_COLUMNS} fields can be selected by the "
                            "local org", query.position)
        if sum(len(p) for _, p in conditions) > MAX_PARAMETERS:
            raise SoqlError(MALFORMED_QUERY, "Query has too many values in its filters", query.position)
        return self._assemble(query, root, resolver, selection, has_aggregate, conditions, frozenset(filter_joins),
                              order_sql, groups, having)

    def _object(self, query: Query) -> ObjectDef:
        root = self.schema.get(query.object_name)
        if root is None or not root.queryable:
            raise SoqlError(INVALID_TYPE, UNSUPPORTED_OBJECT.format(name=query.object_name),
                            query.object_position)
        return root

    # -- SELECT -----------------------------------------------------------------------------------
    def _select(self, query: Query, resolver: Resolver, root: ObjectDef) -> _Selection:
        selection = _Selection()
        for item in query.select:
            if isinstance(item, SubquerySelect):
                selection.children.append(self._child(item, root))
            elif isinstance(item, TypeOf):
                selection.typeofs.append(compile_typeof(item, resolver))
            elif isinstance(item, FieldPath):
                rf = resolver.resolve(item)
                selection.columns.append(_Column(rf.column_name, rf, rf.sql, rf.field, item.position))
            else:
                self._function(item, query, resolver, root, selection)
        if len(selection.children) > MAX_SUBQUERIES:
            raise SoqlError(MALFORMED_QUERY, f"No more than {MAX_SUBQUERIES} parent-to-child relationship queries "
                            "can be specified in a query.", query.position)
        if selection.typeofs:
            used = {c.resolved.relationship[0].lower() for c in selection.columns
                    if c.resolved is not None and c.resolved.relationship}
            for typeof in selection.typeofs:
                if typeof.name.lower() in used:
                    raise SoqlError(MALFORMED_QUERY, f"The relationship {typeof.name} of a TYPEOF cannot also be "
                                    "selected outside it", query.position)
        seen: set[str] = set()
        for column in selection.columns:
            if column.name.lower() in seen:
                raise SoqlError(MALFORMED_QUERY, f"duplicate field selected: {column.name}", column.position)
            seen.add(column.name.lower())
        return selection

    def _function(self, item: FuncCall, query: Query, resolver: Resolver, root: ObjectDef,
                  selection: _Selection) -> None:
        name = item.name.upper()
        if name == "COUNT" and not item.args:
            if len(query.select) > 1:
                raise SoqlError(MALFORMED_QUERY, "COUNT() must be the only element in the SELECT list",
                                item.position)
            selection.is_count = True
        elif name in AGGREGATE_FUNCTIONS:
            found = aggregate(item, resolver)
            label = item.alias
            if label is None:
                label, selection.unaliased = f"expr{selection.unaliased}", selection.unaliased + 1
            selection.columns.append(_Column(label, None, found.sql, found.result, item.position))
        elif name == "FIELDS":
            for path in _fields_function(item, root):
                rf = resolver.resolve(path)
                selection.columns.append(_Column(rf.column_name, rf, rf.sql, rf.field, item.position))
        elif name in _KNOWN_FUNCTIONS:
            raise SoqlError(MALFORMED_QUERY, f"{item.name}() is not supported by the local org", item.position)
        else:
            raise SoqlError(MALFORMED_QUERY, f"Unknown function: {item.name}", item.position)

    def _check_grouping(self, query: Query, selection: _Selection, groups: list[ResolvedField]) -> None:
        """Grouped or aggregated: every plain selected field of an aggregate query must be a GROUP BY field."""
        if not (groups or selection.aggregates):
            return
        if selection.children or selection.typeofs:
            raise SoqlError(MALFORMED_QUERY, "Aggregate queries cannot select relationship queries or TYPEOF",
                            query.position)
        grouped_sql = {g.sql for g in groups}
        for column in selection.columns:
            if column.resolved is not None and column.sql not in grouped_sql:
                raise SoqlError(MALFORMED_QUERY, f"Field must be grouped or aggregated: {column.resolved.column_name}",
                                column.position)
            if column.resolved is not None:
                column.name = column.resolved.field.name  # AggregateResult names a grouped field by its name

    def _child(self, item: SubquerySelect, root: ObjectDef) -> ChildQuery:
        inner = item.query
        assert inner is not None
        found = self.schema.child_relationship(root.name, inner.object_name)
        if found is None:
            raise SoqlError(INVALID_TYPE, f"Didn't understand relationship '{inner.object_name}' in FROM part of "
                            "query call. If you are attempting to use a custom relationship, be sure to append the "
                            "'__r' after the custom relationship name. Please reference your WSDL or the describe "
                            "call for the appropriate names.", inner.object_position)
        child, lookup = found
        if inner.group_by or inner.having is not None or inner.offset is not None or inner.modes:
            raise SoqlError(MALFORMED_QUERY, "A relationship query takes fields, WHERE, ORDER BY and LIMIT only",
                            inner.position)
        name = child_relationship_name(child, lookup)
        compiled = self.compile(replace(inner, object_name=child.name), (inner.object_name.lower(),))
        if compiled.has_aggregate:
            raise SoqlError(MALFORMED_QUERY, "Aggregate functions are not supported in relationship queries",
                            inner.position)
        return ChildQuery(name, compiled, f"t0.{quote_ident(lookup.name)}", inner.limit)

    # -- WHERE helpers ----------------------------------------------------------------------------
    def _semi_join(self, semi: SemiJoin, outer: ResolvedField) -> Fragment:
        inner = semi.query
        if value_kind(outer.field) != "id":
            raise SoqlError(MALFORMED_QUERY, f"Semi join sub-selects need an Id or reference field, not "
                            f"'{outer.field.name}'", semi.position)
        if inner.order_by or inner.limit is not None or inner.offset is not None or inner.group_by or inner.modes:
            raise SoqlError(MALFORMED_QUERY, "ORDER BY, LIMIT, OFFSET and GROUP BY are not supported in semi join "
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

    # -- ORDER BY, LIMIT, OFFSET, FOR ---------------------------------------------------------------
    def _order(self, query: Query, resolver: Resolver, has_aggregate: bool, groups: list[ResolvedField]) -> str:
        terms: list[str] = []
        grouped_sql = {g.sql for g in groups}
        for item in query.order_by:
            if isinstance(item.path, FuncCall):
                if not has_aggregate or item.path.name.upper() not in AGGREGATE_FUNCTIONS:
                    raise SoqlError(MALFORMED_QUERY, f"{item.path.name}() in ORDER BY needs an aggregate query",
                                    item.path.position)
                sql, kind = aggregate(item.path, resolver).sql, "number"
            else:
                rf = resolver.resolve(item.path)
                if has_aggregate and rf.sql not in grouped_sql:
                    raise SoqlError(MALFORMED_QUERY, f"Ordered field must be grouped or aggregated: "
                                    f"{item.path.text}", item.path.position)
                if value_kind(rf.field) == "base64":
                    raise SoqlError(INVALID_FIELD, f"field '{rf.field.name}' can not be sorted in a query call",
                                    item.path.position)
                sql, kind = rf.sql, value_kind(rf.field)
            term = sql + (" COLLATE NOCASE" if kind == "text" else "")
            term += " DESC" if item.descending else " ASC"
            if item.nulls:
                term += f" NULLS {item.nulls}"
            terms.append(term)
        if terms and not has_aggregate and 't0."Id" ASC' not in terms and 't0."Id" DESC' not in terms:
            terms.append('t0."Id" ASC')  # a total order, so LIMIT/OFFSET pages are stable
        return ", ".join(terms)

    def _check_paging(self, query: Query) -> None:
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SoqlError(NUMBER_OUTSIDE_VALID_RANGE, f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                            query.offset_position)

    def _check_modes(self, query: Query) -> None:
        """FOR VIEW / FOR REFERENCE, UPDATE TRACKING / VIEWSTAT and FOR UPDATE: each once, in Salesforce's order."""
        order = {"FOR VIEW": 0, "FOR REFERENCE": 0, "UPDATE TRACKING": 1, "UPDATE VIEWSTAT": 1, "FOR UPDATE": 2}
        last = -1
        for mode, position in query.modes:
            if order[mode] <= last:
                raise SoqlError(MALFORMED_QUERY, f"unexpected token: '{mode.split()[0]}'", position)
            last = order[mode]
            if mode == "FOR UPDATE" and query.order_by:
                raise SoqlError(MALFORMED_QUERY, _NO_ORDER_WITH_LOCKING, position)

    # -- assembly ---------------------------------------------------------------------------------
    def _assemble(self, query: Query, root: ObjectDef, resolver: Resolver, selection: _Selection,
                  has_aggregate: bool, conditions: list[Fragment], filter_joins: frozenset[str], order_sql: str,
                  groups: list[ResolvedField], having: Fragment | None) -> CompiledQuery:
        columns = selection.columns
        select_csv = tuple(formatting.csv_sql(c.sql, c.fd) for c in columns)
        csv_converters = tuple((i, conv) for i, c in enumerate(columns)
                               if (conv := formatting.csv_converter(c.fd)) is not None)
        select_typed = tuple(c.sql for c in columns)
        hidden: list[str] = []
        plan = None
        if not has_aggregate:
            selected = [Selected(i, c.fd, c.resolved) for i, c in enumerate(columns) if c.resolved is not None]
            plan = record_plan(root, selected, selection.typeofs, resolver, len(select_typed), hidden)
        return CompiledQuery(
            object_name=root.name,
            columns=tuple(c.name for c in columns),
            is_count=selection.is_count,
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
            group_sql=", ".join(g.sql + (" COLLATE NOCASE" if value_kind(g.field) == "text" else "") for g in groups),
            having=having,
            aggregate_converters=tuple(formatting.json_converter(c.fd) for c in columns) if has_aggregate else (),
            children=tuple(selection.children),
            uses_typeof=bool(selection.typeofs),
            modes=tuple(mode for mode, _ in query.modes),
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


