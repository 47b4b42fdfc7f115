"""Per-record errors in Salesforce's ``STATUS_CODE:message:fields --`` form, collected per batch.

A batch keeps one error slot per row; the first error a row gets is the one reported (Salesforce
reports the first failing check too). Checks run column by column, so errors arrive as masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def row_error(code: str, message: str, fields: Sequence[str] = ()) -> str:
    """``REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --``; no fields: ``...:--``."""
    return f"{code}:{message}:{','.join(fields)} --" if fields else f"{code}:{message}:--"


def split_error(text: str) -> dict[str, Any]:
    """``CODE:message:F1,F2 --`` (or ``CODE:message:--``) as {statusCode, message, fields}."""
    code, _, rest = text.partition(":")
    if rest.endswith(":--"):
        return {"statusCode": code, "message": rest[:-3], "fields": []}
    body = rest.removesuffix(" --")
    message, sep, names = body.rpartition(":")
    if not sep:
        return {"statusCode": code, "message": body, "fields": []}
    return {"statusCode": code, "message": message, "fields": [n for n in names.split(",") if n]}


def unable_to_lock_row() -> str:
    return row_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")


class RowErrors:
    """The error (or None) of each row of a batch."""

    def __init__(self, size: int):
        self.messages = np.full(size, None, dtype=object)

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def ok(self) -> np.ndarray:
        """Rows without an error so far."""
        return np.equal(self.messages, None)

    def failed_count(self) -> int:
        return int(len(self.messages) - np.count_nonzero(self.ok))

    def add(self, rows: np.ndarray | Iterable[int], messages: str | Sequence[str]) -> None:
        """Record `messages` (one per row, or one for all) for `rows` that have no error yet.

        `rows` is a boolean mask or row indices.
        """
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        if rows.size == 0:
            return
        if isinstance(messages, str):
            messages = [messages] * rows.size
        free = np.equal(self.messages[rows], None)
        values = np.empty(rows.size, dtype=object)
        values[:] = list(messages)
        self.messages[rows[free]] = values[free]

    def add_each(self, rows: np.ndarray, message_for) -> None:
        """Like `add`, building each row's message with ``message_for(row_index)`` (only for free rows)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows[np.equal(self.messages[rows], None)]
        for row in rows.tolist():
            self.messages[row] = message_for(row)
