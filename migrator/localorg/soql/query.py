"""CompiledQuery: the SQL for one SOQL query plus the ways the server runs it.

Rows are streamed straight from a SQLite cursor: for CSV the SELECT already produces text, so
``iter_rows`` usually yields the cursor's tuples untouched. The pieces of the statement are kept
apart (select lists, joins, conditions, order, limit) so ``count`` can skip joins nothing filters on,
and ``with_id_range`` can add a PK-chunk bound without re-parsing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .formatting import Converter, format_doubles
from .records import RecordNode, build
from .resolver import Join, quote_ident

Fragment = tuple[str, list[object]]
CHILD_BLOCK = 200  # parent records whose children are read with one query per subquery
PRINTF_VALUES = 50  # values per printf() call: SQLite takes at most 100 arguments per function


def _printf_line(exprs: list[str], delimiter: str) -> str:
    """SQL writing `exprs` (text, never null) as quoted CSV values joined by `delimiter`."""
    literal = delimiter.replace("'", "''")
    calls = []
    for start in range(0, len(exprs), PRINTF_VALUES):
        group = exprs[start:start + PRINTF_VALUES]
        pattern = literal.join(['"%w"'] * len(group))
        calls.append(f"printf('{pattern}', {', '.join(group)})")
    return f" || '{literal}' || ".join(calls)


@dataclass(frozen=True)
class ChildQuery:
    """A parent-to-child subquery (``(SELECT ... FROM Contacts)``): the child query and its lookup."""

    name: str  # the relationship name records carry it under
    query: CompiledQuery
    key_sql: str  # the child's lookup column (on the child query's root alias)
    limit: int | None  # per parent


@dataclass(frozen=True)
class CompiledQuery:
    object_name: str
    columns: tuple[str, ...]
    is_count: bool
    has_aggregate: bool
    uses_offset: bool
    root_alias: str
    select_csv: tuple[str, ...]
    csv_converters: tuple[tuple[int, Converter], ...]
    select_typed: tuple[str, ...]
    select_hidden: tuple[str, ...]  # root Id, parent Ids and types: only for REST records
    record_plan: RecordNode | None  # None for aggregate queries
    joins: tuple[Join, ...]
    filter_joins: frozenset[str]
    conditions: tuple[Fragment, ...]
    order_sql: str = ""
    limit: int | None = None
    offset: int | None = None
    id_range: tuple[str | None, str | None] = (None, None)
    group_sql: str = ""  # GROUP BY expressions
    having: Fragment | None = None
    aggregate_converters: tuple[Converter | None, ...] = ()  # per column of an aggregate query's records
    children: tuple[ChildQuery, ...] = ()
    uses_typeof: bool = False
    modes: tuple[str, ...] = ()  # FOR VIEW, FOR REFERENCE, UPDATE TRACKING/VIEWSTAT, FOR UPDATE (no effect here)
    _cache: dict[str, Fragment] = field(default_factory=dict, compare=False, repr=False)

    # -- SQL ---------------------------------------------------------------------------------------
    @property
    def sql(self) -> str:
        """The SELECT returning typed (store) values in column order."""
        return self._statement("typed")[0]

    @property
    def params(self) -> list[object]:
        return list(self._statement("typed")[1])

    @property
    def csv_sql(self) -> str:
        return self._statement("csv")[0]

    def _statement(self, mode: str) -> Fragment:
        if mode not in self._cache:
            exprs = {"typed": self.select_typed, "csv": self.select_csv,
                     "records": self.select_typed + self.select_hidden}[mode]
            self._cache[mode] = self._render(", ".join(exprs) or "1", self.joins, paged=True)
        return self._cache[mode]

    def _render(self, select: str, joins: tuple[Join, ...], paged: bool) -> Fragment:
        sql = [f"SELECT {select} FROM {quote_ident(self.object_name)} AS {self.root_alias}"]
        sql.extend(j.sql for j in joins)
        where, params = self._where()
        if where:
            sql.append("WHERE " + " AND ".join(where))
        if self.group_sql:
            sql.append("GROUP BY " + self.group_sql)
        if self.having is not None:
            sql.append("HAVING " + self.having[0])
            params = [*params, *self.having[1]]
        if paged and self.order_sql:
            sql.append("ORDER BY " + self.order_sql)
        if paged and (self.limit is not None or self.offset is not None):
            sql.append(f"LIMIT {self.limit if self.limit is not None else -1}")
            if self.offset:
                sql.append(f"OFFSET {self.offset}")
        return " ".join(sql), params

    def _where(self) -> tuple[list[str], list[object]]:
        parts: list[str] = []
        params: list[object] = []
        for sql, values in self.conditions:
            parts.append(sql)
            params.extend(values)
        lo, hi = self.id_range
        if lo is not None:
            parts.append(f'{self.root_alias}."Id" >= ?')
            params.append(lo)
        if hi is not None:
            parts.append(f'{self.root_alias}."Id" < ?')
            params.append(hi)
        return parts, params

    # -- running ---------------------------------------------------------------------------------
    def iter_rows(self, conn: sqlite3.Connection) -> Iterator[tuple[str, ...]]:
        """CSV-ready text tuples in column order, streamed. COUNT() queries have no rows."""
        if self.is_count:
            return
        sql, params = self._statement("csv")
        cursor = conn.execute(sql, params)
        if not self.csv_converters:
            yield from cursor
            return
        converters = self.csv_converters
        for row in cursor:
            values = list(row)
            for index, convert in converters:
                values[index] = convert(values[index])
            yield tuple(values)

    def iter_csv_lines(self, conn: sqlite3.Connection, rows: int, delimiter: str) -> Iterator[pa.Array]:
        """Up to `rows` result rows at a time, each one all-quoted CSV line (no line ending) in an
        Arrow string array. SQLite writes each line itself (`printf`'s ``%w`` doubles the quotes),
        so Python touches one value per row, not one per cell, and a query of six fields costs
        about what a query of one does; doubles are formatted column-wise (`format_doubles`) and
        joined in. COUNT() queries have no rows."""
        if self.is_count:
            return
        select, doubles = self._line_select(delimiter)
        sql, params = self._render(select, self.joins, paged=True)
        cursor = conn.execute(sql, params)
        while chunk := cursor.fetchmany(rows):
            if not doubles:
                yield pa.array([line for (line,) in chunk], pa.string())
                continue
            segments = [pa.array(column, pa.string()) if index not in doubles else
                        pc.binary_join_element_wise('"', format_doubles(column), '"', "")
                        for index, column in enumerate(zip(*chunk, strict=True))]
            yield pc.binary_join_element_wise(*segments, delimiter)

    def _line_select(self, delimiter: str) -> tuple[str, frozenset[int]]:
        """The select list of `iter_csv_lines`: runs of text columns as one quoted line segment each,
        doubles (formatted in Python) as segments of their own; the indexes of those segments."""
        converted = {index for index, _ in self.csv_converters}
        segments: list[str] = []
        doubles: set[int] = set()
        run: list[str] = []

        def close_run() -> None:
            if run:
                segments.append(_printf_line(run, delimiter))
                run.clear()

        for index, expr in enumerate(self.select_csv):
            if index in converted:
                close_run()
                doubles.add(len(segments))
                segments.append(expr)
            else:
                run.append(expr)
        close_run()
        return ", ".join(segments) or "''", frozenset(doubles)

    @property
    def rest_only(self) -> bool:
        """Whether the query needs REST records (subqueries, TYPEOF): its CSV rows would lose those parts."""
        return bool(self.children) or self.uses_typeof

    def iter_records(self, conn: sqlite3.Connection, api_version: str = "62.0") -> Iterator[dict[str, Any]]:
        """REST ``records`` entries, streamed. COUNT() queries have none (use `count`)."""
        if self.is_count:
            return
        sql, params = self._statement("records")
        cursor = conn.execute(sql, params)
        if self.record_plan is None:
            converters = self.aggregate_converters or (None,) * len(self.columns)
            for row in cursor:
                record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
                record.update((name, convert(value) if convert is not None and value is not None else value)
                              for name, value, convert in zip(self.columns, row, converters, strict=False))
                yield record
            return
        base = f"/services/data/v{api_version}/sobjects/"
        plan = self.record_plan
        if not self.children:
            for row in cursor:
                yield build(row, plan, base)  # type: ignore[misc]
            return
        while block := cursor.fetchmany(CHILD_BLOCK):
            ids = [row[plan.id_index] for row in block]
            records = [build(row, plan, base) for row in block]
            for child in self.children:
                found = child.query.children_of(conn, api_version, child.key_sql, ids, child.limit)
                for record_id, record in zip(ids, records, strict=True):
                    rows = found.get(record_id)
                    record[child.name] = {"totalSize": len(rows), "done": True, "records": rows} if rows else None
            yield from records  # type: ignore[misc]

    def children_of(self, conn: sqlite3.Connection, api_version: str, key_sql: str, parent_ids: list[str],
                    limit: int | None) -> dict[str, list[dict[str, Any]]]:
        """This (child) query's records for each of `parent_ids`, in its order, at most `limit` per parent."""
        scoped = replace(self, conditions=(*self.conditions, (f"{key_sql} IN (SELECT value FROM json_each(?))",
                                                              [json.dumps(parent_ids)])),
                         limit=None, offset=None, _cache={})
        sql, params = scoped._render(", ".join((*self.select_typed, *self.select_hidden, key_sql)), self.joins,
                                     paged=True)
        base = f"/services/data/v{api_version}/sobjects/"
        grouped: dict[str, list[dict[str, Any]]] = {}
        plan = self.record_plan
        assert plan is not None
        for row in conn.execute(sql, params):
            rows = grouped.setdefault(row[-1], [])
            if limit is None or len(rows) < limit:
                rows.append(build(row, plan, base))  # type: ignore[arg-type]
        return grouped

    def count(self, conn: sqlite3.Connection) -> int:
        """Rows the query returns (the COUNT() result; groups of a GROUP BY), LIMIT and OFFSET included."""
        if self.group_sql:
            sql, params = self._render("1", self.joins, paged=False)
            total = int(conn.execute(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0])
        elif self.has_aggregate and not self.is_count:
            total = 1
        else:
            joins = tuple(j for j in self.joins if j.alias in self.filter_joins)
            sql, params = self._render("COUNT(*)", joins, paged=False)
            total = int(conn.execute(sql, params).fetchone()[0])
        total = max(0, total - (self.offset or 0))
        return total if self.limit is None else min(total, self.limit)

    def with_id_range(self, lo: str | None, hi: str | None) -> CompiledQuery:
        """The same query restricted to ``lo <= Id < hi`` (either bound optional), for PK chunking."""
        return replace(self, id_range=(lo, hi), _cache={})
