"""The REST reads a route or a composite subrequest makes: describe (global, basic, full) and query pages.

Describe honours ``If-Modified-Since``: the metadata of a local org changes when its schema files
change (the store keeps the time it first saw each schema) or, for one object, when a RecordType of
it is saved (record types are data here and appear in ``recordTypeInfos``). Unchanged since the date
given: 304 Not Modified, no body; otherwise 200 with ``Last-Modified``.

Queries page through ``RestQueries``; ``Sforce-Query-Options: batchSize=N`` (200 to 2,000) sets the
page size. Inside a composite request that holds a transaction, the first page is read through that
transaction (so it sees the composite's own writes); later pages come from a snapshot of committed data.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from .describe import object_describe, object_summary
from .orgschema import ObjectDef
from .rest_call import RestCall, RestResponse
from .rest_query import CursorError
from .rest_sobjects import object_of
from .soql import SoqlError
from .web_common import ApiError

_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def _not_modified(call: RestCall, modified: datetime) -> RestResponse | None:
    """304 when the client's If-Modified-Since is at or after `modified` (an unreadable date is ignored)."""
    since = call.headers.get("if-modified-since")
    if not since:
        return None
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment >= modified.replace(microsecond=0):
        return RestResponse(304, None, {"Last-Modified": _http_date(modified)})
    return None


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def describe_global(call: RestCall) -> RestResponse:
    modified = call.org.store.schema_modified
    unchanged = _not_modified(call, modified)
    if unchanged is not None:
        return unchanged
    objects = call.org.schema.objects.values()
    return RestResponse(200, {"encoding": "UTF-8", "maxBatchSize": 200,
                              "sobjects": [object_summary(obj, call.version) for obj in objects]},
                        {"Last-Modified": _http_date(modified)})


def sobject_info(call: RestCall, name: str) -> RestResponse:
    return RestResponse(200, {"objectDescribe": object_summary(object_of(call, name), call.version),
                              "recentItems": []})


def _record_types(conn: sqlite3.Connection, call: RestCall, obj: ObjectDef) -> tuple[list[dict[str, Any]], str | None]:
    if call.org.schema.get("RecordType") is None:
        return [], None
    rows = conn.execute('SELECT "Id", "Name", "DeveloperName", "IsActive", "SystemModstamp" FROM "RecordType" '
                        'WHERE "SobjectType" = ? AND "IsDeleted" = 0 ORDER BY "Name"', (obj.name,)).fetchall()
    latest = conn.execute('SELECT max("SystemModstamp") FROM "RecordType" WHERE "SobjectType" = ?',
                          (obj.name,)).fetchone()[0]
    return [dict(zip(("Id", "Name", "DeveloperName", "IsActive"), row[:4], strict=True)) for row in rows], latest


def describe(call: RestCall, name: str) -> RestResponse:
    obj = object_of(call, name)
    record_types, latest = _record_types(call.org.store.conn(), call, obj)
    modified = call.org.store.schema_modified
    if latest:  # a record type saved (or deleted) since: the describe changed
        modified = max(modified, datetime.fromisoformat(latest.replace("Z", "+00:00")))
    unchanged = _not_modified(call, modified)
    if unchanged is not None:
        return unchanged
    return RestResponse(200, object_describe(call.org.schema, obj, call.version, record_types),
                        {"Last-Modified": _http_date(modified)})


def batch_size(call: RestCall, default: int) -> int:
    """``Sforce-Query-Options: batchSize=N``: Salesforce takes 200 to 2,000 (and may return more)."""
    match = _BATCH.search(call.headers.get("sforce-query-options", ""))
    return min(2000, max(200, int(match[1]))) if match else default


def query(call: RestCall, include_deleted: bool, conn: sqlite3.Connection | None = None) -> RestResponse:
    soql = call.params.get("q")
    if soql is None or not soql.strip():
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    try:
        page = call.org.rest_queries.first_page(soql, include_deleted, call.version,
                                                batch_size(call, call.org.settings.rest_query_batch), conn=conn)
    except SoqlError as exc:
        raise ApiError(400, exc.error_code, exc.message) from None
    return RestResponse(200, page)


def query_more(call: RestCall, locator: str, include_deleted: bool) -> RestResponse:
    try:
        page = call.org.rest_queries.next_page(locator, call.version, include_deleted)
    except CursorError:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator") from None
    return RestResponse(200, page)
