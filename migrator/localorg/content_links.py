"""Salesforce's rule for sharing a file: one ContentDocumentLink per file and record.

Inserting a link between a document and a record it is already shared with (by an earlier link,
by the ContentVersion's FirstPublishLocationId, or by an earlier row of the same batch) fails with
``DUPLICATE_VALUE: Document with ID: 069... is already linked with the entity with ID: 001...``,
as Salesforce answers.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from .rowerrors import RowErrors, row_error

LINK_OBJECT = "ContentDocumentLink"


def check_duplicate_links(conn: sqlite3.Connection, object_name: str, values: dict[str, Any],
                          inserting: np.ndarray, errors: RowErrors) -> None:
    """Mark the rows of a ContentDocumentLink insert that repeat an existing (document, record) pair."""
    documents, entities = values.get("ContentDocumentId"), values.get("LinkedEntityId")
    if object_name != LINK_OBJECT or documents is None or entities is None:
        return
    rows = np.flatnonzero(inserting & errors.ok & documents.given & entities.given
                          & np.not_equal(documents.values, None) & np.not_equal(entities.values, None))
    if rows.size == 0:
        return
    pairs = [(str(d), str(e)) for d, e in zip(documents.values[rows].tolist(), entities.values[rows].tolist(),
                                               strict=True)]
    wanted = sorted({d for d, _ in pairs})
    known: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        known |= set(conn.execute(
            f'SELECT "ContentDocumentId", "LinkedEntityId" FROM "{LINK_OBJECT}" '
            f'WHERE "IsDeleted" = 0 AND "ContentDocumentId" IN ({marks})', chunk).fetchall())
    for row, pair in zip(rows.tolist(), pairs, strict=True):
        if pair in known:
            errors.add([row], row_error("DUPLICATE_VALUE", f"Document with ID: {pair[0]} is already linked with "
                                                           f"the entity with ID: {pair[1]}", ["LinkedEntityId"]))
        known.add(pair)
