"""REST ``/query`` and ``/queryAll`` paging: a cursor per query, read from one database snapshot.

The first page runs the query in a read transaction on a connection of its own; later pages
(``nextRecordsUrl`` = ``/services/data/vXX.X/query/<cursor>-<offset>``) continue the same cursor,
so a long result is streamed rather than held in memory, and stays consistent while loads run.
Cursors expire after 15 minutes; at most `MAX_CURSORS` stay open (the oldest is dropped).

A composite request holding a transaction passes its connection: the first page is read through it
(so the query sees the composite's own writes) and later pages from a fresh snapshot, past that page.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .soql import CompiledQuery, SoqlError, compile_query
from .store import Store

CURSOR_TTL_SECONDS = 15 * 60
MAX_CURSORS = 50
AGGREGATE_PAGE_ROWS = 2000


class CursorError(LookupError):
    pass


@dataclass
class _Cursor:
    conn: sqlite3.Connection
    records: Iterator[dict[str, Any]]
    total: int
    batch: int
    delivered: int = 0
    touched: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RestQueries:
    def __init__(self, store: Store):
        self.store = store
        self._cursors: dict[str, _Cursor] = {}
        self._lock = threading.Lock()

    def first_page(self, soql: str, include_deleted: bool, version: str, batch: int,
                   conn: sqlite3.Connection | None = None) -> dict[str, Any]:
        """Run `soql` (SoqlError propagates) and return its first page (read through `conn` when given)."""
        query = compile_query(soql, self.store.schema, include_deleted=include_deleted)
        if query.has_aggregate and not query.is_count:  # one page of up to 2,000 groups, whatever batchSize says
            batch = AGGREGATE_PAGE_ROWS
            if query.limit is None or query.limit > batch:
                self._check_aggregate_size(query, conn, batch)
        if conn is not None:
            return self._first_page_through(conn, query, include_deleted, version, batch)
        conn = self.store.connect(cache_mb=16, register=False)
        try:
            conn.execute("BEGIN")
            total = query.count(conn)
            if query.is_count:
                conn.close()
                return {"totalSize": total, "done": True, "records": []}
            cursor = _Cursor(conn, query.iter_records(conn, version), total, batch)
        except BaseException:
            conn.close()
            raise
        cursor_id = "01g" + secrets.token_hex(6)
        page = self._page(cursor_id, cursor, version, include_deleted)
        if not page["done"]:
            with self._lock:
                self._expire()
                self._cursors[cursor_id] = cursor
            conn = None  # kept open by the cursor
        if conn is not None:
            self._close(cursor)
        return page

    def _check_aggregate_size(self, query: CompiledQuery, conn: sqlite3.Connection | None, batch: int) -> None:
        """An aggregate query answers in one page, or not at all (Salesforce has no queryMore for it)."""
        if conn is None:
            conn = self.store.connect(cache_mb=16, register=False)
            try:
                total = query.count(conn)
            finally:
                conn.close()
        else:
            total = query.count(conn)
        if total > batch:
            raise SoqlError("EXCEEDED_ID_LIMIT", "Aggregate query does not support queryMore(), use LIMIT to restrict "
                                                 "the results to a single batch")

    def _first_page_through(self, conn: sqlite3.Connection, query: CompiledQuery, include_deleted: bool,
                            version: str, batch: int) -> dict[str, Any]:
        total = query.count(conn)
        if query.is_count:
            return {"totalSize": total, "done": True, "records": []}
        records = list(itertools.islice(query.iter_records(conn, version), batch))
        page: dict[str, Any] = {"totalSize": total, "done": len(records) >= total or len(records) < batch,
                                "records": records}
        if page["done"]:
            return page
        snapshot = self.store.connect(cache_mb=16, register=False)
        try:
            snapshot.execute("BEGIN")
            rest = query.iter_records(snapshot, version)
            for _ in itertools.islice(rest, len(records)):  # past the rows this page holds
                pass
        except BaseException:
            snapshot.close()
            raise
        cursor_id = "01g" + secrets.token_hex(6)
        with self._lock:
            self._expire()
            self._cursors[cursor_id] = _Cursor(snapshot, rest, total, batch, delivered=len(records))
        resource = "queryAll" if include_deleted else "query"
        page["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{cursor_id}-{len(records)}"
        return page

    def next_page(self, locator: str, version: str, include_deleted: bool) -> dict[str, Any]:
        cursor_id, _, offset = locator.rpartition("-")
        with self._lock:
            self._expire()
            cursor = self._cursors.get(cursor_id)
        if cursor is None or not offset.isdigit() or int(offset) != cursor.delivered:
            raise CursorError("invalid query locator")
        page = self._page(cursor_id, cursor, version, include_deleted)
        if page["done"]:
            with self._lock:
                self._cursors.pop(cursor_id, None)
            self._close(cursor)
        return page

    def _page(self, cursor_id: str, cursor: _Cursor, version: str, include_deleted: bool) -> dict[str, Any]:
        with cursor.lock:
            records = list(itertools.islice(cursor.records, cursor.batch))
            cursor.delivered += len(records)
            cursor.touched = time.monotonic()
            done = cursor.delivered >= cursor.total or len(records) < cursor.batch
        page: dict[str, Any] = {"totalSize": cursor.total, "done": done, "records": records}
        if not done:
            resource = "queryAll" if include_deleted else "query"
            page["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{cursor_id}-{cursor.delivered}"
        return page

    def _expire(self) -> None:
        now = time.monotonic()
        stale = [k for k, c in self._cursors.items() if now - c.touched > CURSOR_TTL_SECONDS]
        while len(self._cursors) - len(stale) >= MAX_CURSORS:
            oldest = min((k for k in self._cursors if k not in stale), key=lambda k: self._cursors[k].touched)
            stale.append(oldest)
        for key in stale:
            self._close(self._cursors.pop(key))

    @staticmethod
    def _close(cursor: _Cursor) -> None:
        with contextlib.suppress(sqlite3.Error):
            cursor.conn.execute("COMMIT")
        cursor.conn.close()

    def close(self) -> None:
        with self._lock:
            cursors, self._cursors = list(self._cursors.values()), {}
        for cursor in cursors:
            self._close(cursor)
