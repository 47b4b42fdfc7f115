"""ContentDocumentIds for rows that name their file by the plan's ContentVersion key.

Salesforce assigns a ContentDocument when a ContentVersion is inserted, and a ContentDocument has
no external id, so a `ContentDocumentLink` cannot find its file through a relationship header. Its
`ContentDocumentId` column carries the version's key instead (see `compile.binary_files`); once the
versions have loaded (the link step runs in a later wave), the run asks the target
`SELECT ContentDocumentId, <key> FROM ContentVersion WHERE <key> IN (...)` and swaps each key for
its document's Id. A key the target does not know makes the row skipped, naming the version's key,
rather than sent to fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from migrator.compile.binary_files import DOCUMENT_FIELD, VERSION_OBJECT, resolves_document
from migrator.compile.manifest import Manifest, StepEntry
from migrator.run.failed_keys import ORPHAN_COLUMNS, lookup_targets

Query = Callable[[str], list[dict[str, Any]]]  # SOQL -> records
KEYS_PER_QUERY = 200  # keeps each SOQL statement far below Salesforce's 100,000 characters


def document_lookups(manifest: Manifest, step: StepEntry) -> list[tuple[str, str]]:
    """(column, ContentVersion key field) of each column of `step` that the run resolves."""
    return [(header, key) for header, target, key in lookup_targets(manifest, step)
            if resolves_document(header, target)]


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def document_ids(query: Query, key_field: str, keys: Iterable[str]) -> dict[str, str]:
    """Version key -> ContentDocumentId, for the keys the target holds (asked 200 at a time)."""
    wanted = sorted({k for k in keys if k})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = ", ".join(_quoted(k) for k in wanted[start:start + KEYS_PER_QUERY])
        soql = (f"SELECT {DOCUMENT_FIELD}, {key_field} FROM {VERSION_OBJECT} "
                f"WHERE {key_field} IN ({chunk})")
        for record in query(soql):
            if record.get(DOCUMENT_FIELD) and record.get(key_field) is not None:
                found[str(record[key_field])] = str(record[DOCUMENT_FIELD])
    return found


def resolve_documents(rows: pd.DataFrame, lookups: list[tuple[str, str]],
                      query: Query) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows with ContentDocumentIds in place of version keys, the rows that cannot be sent with
    `ORPHAN_COLUMNS`, indexed like `rows`). A blank key stays blank: the target says what it thinks."""
    resolved = rows.copy()
    misses = []
    for column, key_field in lookups:
        keys = rows[column].astype("str").fillna("")
        ids = keys.map(document_ids(query, key_field, keys.unique()))
        missing = ids.isna() & (keys != "")
        if missing.any():
            misses.append(pd.DataFrame({
                "reason": f"its {VERSION_OBJECT} ({key_field}) is not in the target, so it has no ContentDocument",
                "parent_object": VERSION_OBJECT,
                "parent_key": keys[missing].to_numpy(),
            }, index=keys.index[missing]))
        resolved[column] = ids.fillna("").where(keys != "", "")
    orphans = pd.concat(misses) if misses else pd.DataFrame(columns=ORPHAN_COLUMNS)
    orphans = orphans[~orphans.index.duplicated()]
    return resolved.drop(index=orphans.index), orphans
