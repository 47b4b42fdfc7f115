"""The local org's SOQL engine: SOQL text -> lark parse tree -> SQLite SQL over the store -> rows.

Public API (the server codes against exactly this)::

    q = compile_query(soql, schema, include_deleted=False, today=None, now=None)  # raises SoqlError
    q.object_name, q.columns, q.is_count, q.has_aggregate, q.uses_offset
    q.iter_rows(conn)              # CSV-ready text tuples, streamed
    q.iter_records(conn, "62.0")   # REST JSON records, streamed
    q.count(conn)                  # COUNT() result / number of rows the query returns
    q.with_id_range(lo, hi)        # PK-chunk restriction lo <= Id < hi
    q.sql, q.params                # generated SQL (typed values), for debugging

Imports nothing from migrator outside ``migrator.localorg``.
"""

from .compiler import compile_query
from .errors import SoqlError
from .query import CompiledQuery

__all__ = ["CompiledQuery", "SoqlError", "compile_query"]
