"""The REST calls a check makes beside Bulk API: describe, global describe, limits, small queries.

Answers are returned as the JSON the server sent (dicts), so that callers read Salesforce's own
attribute names; errors go through THE error mapping like every other call (an unknown object's
describe is a `NotFoundError`). Knows nothing of plans.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from migrator.client.http import ApiSession


class RestClient:
    def __init__(self, api: ApiSession):
        self.api = api

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        with self.api.request("GET", path, params=params) as response:
            return response.json()

    def describe_global(self) -> dict[str, Any]:
        """``GET /sobjects``: every object's name, label, key prefix and flags."""
        return self._get("sobjects")

    def describe(self, object_name: str) -> dict[str, Any]:
        """``GET /sobjects/{object}/describe``: fields, record types, child relationships."""
        return self._get(f"sobjects/{quote(object_name, safe='')}/describe")

    def limits(self) -> dict[str, Any]:
        """``GET /limits``: ``{"DailyBulkApiBatches": {"Max": ..., "Remaining": ...}, ...}``."""
        return self._get("limits")

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """REST query records, every page (``nextRecordsUrl``) followed."""
        page = self._get("query", {"q": soql})
        while True:
            yield from page.get("records") or []
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self._get(page["nextRecordsUrl"])

    def count(self, soql_from: str) -> int:
        """``SELECT COUNT() FROM <soql_from>``: how many records (the query's totalSize)."""
        return int(self._get("query", {"q": f"SELECT COUNT() FROM {soql_from}"}).get("totalSize", 0))
