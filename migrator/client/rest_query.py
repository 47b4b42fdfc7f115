"""SOQL over the REST API (``GET .../query``): for the few records a caller reads at once.

Bulk queries are for extracts; a handful of records (a migration history, a lock) is one REST call
that answers straight away, following ``nextRecordsUrl`` when the server pages the answer.
"""

from __future__ import annotations

from typing import Any

from migrator.client.http import ApiSession


def query_records(api: ApiSession, soql: str) -> list[dict[str, Any]]:
    """Every record `soql` selects, as dicts of field -> value (``attributes`` dropped)."""
    with api.request("GET", "query", params={"q": soql}) as response:
        body = response.json()
    records = list(body.get("records") or [])
    while not body.get("done", True) and body.get("nextRecordsUrl"):
        with api.request("GET", str(body["nextRecordsUrl"])) as response:
            body = response.json()
        records += body.get("records") or []
    return [{key: value for key, value in record.items() if key != "attributes"} for record in records]
