"""The history in the org itself: ``Migrator_Migration__c`` records, read by REST query, written by Bulk 2.0.

One record per entry, upserted on ``Key__c`` (the installed rank, zero-padded), so a write that is
retried after a lost answer replaces rather than duplicates. The lock is one more record whose
``Key__c`` is ``LOCK``: taking it is an *insert*, which the org's unique index refuses with
DUPLICATE_VALUE while another run holds it, atomically, whichever machine that run is on; the
refusal names the holder's run id read back from that record. Releasing deletes it.

The object's metadata ships in ``salesforce/objects/Migrator_Migration__c``; the local org has it
built in. `FIELDS` is the one list of what is written, checked against both by the tests.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from migrator.client.bulk2 import MULTIPART_MAX_CHARS, Bulk2Client
from migrator.client.http import ApiSession
from migrator.client.rest_query import query_records
from migrator.compile.csvio import encode_rows, header_line
from migrator.errors import HistoryError, NotFoundError, TransientApiError
from migrator.history.entries import Counts, History, HistoryEntry, LockInfo
from migrator.history.store import locked_error
from migrator.run.executor import Clock
from migrator.run.outcomes import parse_error

OBJECT = "Migrator_Migration__c"
LOCK_KEY = "LOCK"
LOCK_TYPE = "lock"
ATTEMPTS = 3
JOB_TIMEOUT_SECONDS = 300.0
# Salesforce field -> (entry attribute or counts.<name>, maximum length for text).
FIELDS: dict[str, tuple[str, int | None]] = {
    "Key__c": ("key", 80), "Name": ("name", 80), "Installed_Rank__c": ("rank", None), "Type__c": ("kind", 20),
    "Version__c": ("version", 50), "Description__c": ("description", 200), "Script__c": ("script", 255),
    "Checksum__c": ("checksum", 64), "Previous_Checksum__c": ("previous_checksum", 64),
    "Applied_At__c": ("applied_at", None), "Applied_By__c": ("applied_by", 120), "Run_Id__c": ("run_id", 40),
    "Outcome__c": ("outcome", 20), "Rows_Source__c": ("counts.source", None),
    "Rows_Filtered__c": ("counts.filtered", None), "Rows_Rejected__c": ("counts.rejected", None),
    "Rows_Created__c": ("counts.created", None), "Rows_Updated__c": ("counts.updated", None),
    "Rows_Failed__c": ("counts.failed", None), "Rows_Skipped__c": ("counts.skipped", None),
    "Seconds__c": ("seconds", None), "Migrator_Version__c": ("migrator_version", 40),
    "Message__c": ("message", 32768), "Digests__c": ("digests", 32768),
}
COLUMNS = list(FIELDS)


def record_key(rank: int) -> str:
    return f"{rank:06d}"


def entry_record(entry: HistoryEntry) -> dict[str, str]:
    """The entry as the text columns of one CSV row."""
    values: dict[str, Any] = {**entry.as_dict(), "key": record_key(entry.rank), "name": entry.label}
    row = {}
    for name, (attribute, length) in FIELDS.items():
        value = (values["counts"][attribute[7:]] if attribute.startswith("counts.") else values[attribute])
        if isinstance(value, dict):
            value = json.dumps(value, sort_keys=True, separators=(",", ":")) if value else ""
        text = "" if value is None else str(value)
        row[name] = text[:length] if length else text
    return row


def _number(value: Any) -> float:
    return float(value) if value not in (None, "") else 0.0


def salesforce_time(value: Any) -> str:
    """``2026-11-29T09:30:12.000+0000`` (how the API answers) -> ``2026-11-29T09:30:12Z``."""
    if not value:
        return ""
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_from_record(record: dict[str, Any]) -> HistoryEntry:
    def text(field: str) -> str:
        value = record.get(field)
        return "" if value is None else str(value)

    counts = Counts(**{attribute[7:]: int(_number(record.get(name))) for name, (attribute, _) in FIELDS.items()
                       if attribute.startswith("counts.")})
    return HistoryEntry(
        rank=int(_number(record.get("Installed_Rank__c"))), kind=text("Type__c") or "versioned",  # type: ignore[arg-type]
        description=text("Description__c"), outcome=text("Outcome__c") or "success",  # type: ignore[arg-type]
        version=text("Version__c") or None, script=text("Script__c"), checksum=text("Checksum__c"),
        previous_checksum=text("Previous_Checksum__c"), applied_at=salesforce_time(record.get("Applied_At__c")),
        applied_by=text("Applied_By__c"), run_id=text("Run_Id__c"), counts=counts,
        seconds=_number(record.get("Seconds__c")), migrator_version=text("Migrator_Version__c"),
        message=text("Message__c"), digests=_json(text("Digests__c")))


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")))) if data else []


class OrgHistoryStore:
    kind = "org"

    def __init__(self, api: ApiSession, org_id: str, *, clock: Clock | None = None):
        self.api = api
        self.client = Bulk2Client(api)
        self.clock = clock or Clock()
        self.location = f"org {org_id} ({OBJECT})"
        self._lock_id: str | None = None

    # --- the object ------------------------------------------------------------------------

    def missing_fields(self) -> list[str] | None:
        """None when the org has no history object; else the fields it lacks (empty: all there)."""
        try:
            with self.api.request("GET", f"sobjects/{OBJECT}/describe") as response:
                described = {f["name"] for f in response.json().get("fields", [])}
        except NotFoundError:
            return None
        return [name for name in COLUMNS if name not in described]

    # --- reading ---------------------------------------------------------------------------

    def _records(self, where: str = "") -> list[dict[str, Any]]:
        soql = f"SELECT Id, {', '.join(COLUMNS)} FROM {OBJECT}{where} ORDER BY Installed_Rank__c"
        return query_records(self.api, soql)

    def read(self) -> History:
        entries, lock = [], None
        for record in self._records():
            if record.get("Key__c") == LOCK_KEY:
                lock = self._lock_of(record)
            elif (record.get("Type__c") or "") != LOCK_TYPE:
                entries.append(entry_from_record(record))
        return History(tuple(sorted(entries, key=lambda e: e.rank)), lock)

    @staticmethod
    def _lock_of(record: dict[str, Any]) -> LockInfo:
        return LockInfo(holder=str(record.get("Run_Id__c") or "?"),
                        since=salesforce_time(record.get("Applied_At__c")), by=str(record.get("Applied_By__c") or ""),
                        command=str(record.get("Description__c") or "migrate"))

    def _lock_record(self) -> dict[str, Any] | None:
        found = self._records(f" WHERE Key__c = '{LOCK_KEY}'")
        return found[0] if found else None

    # --- writing ---------------------------------------------------------------------------

    def save(self, entries: Sequence[HistoryEntry]) -> None:
        if not entries:
            return
        _, failed = self._ingest("upsert", [entry_record(e) for e in entries], external_id="Key__c")
        if failed:
            raise self._refused("could not record the history", failed)

    def acquire(self, lock: LockInfo) -> None:
        row = {name: "" for name in COLUMNS} | {
            "Key__c": LOCK_KEY, "Name": f"lock held by {lock.holder}"[:80], "Type__c": LOCK_TYPE,
            "Description__c": lock.command, "Applied_At__c": lock.since, "Applied_By__c": lock.by[:120],
            "Run_Id__c": lock.holder[:40], "Installed_Rank__c": "0"}
        succeeded, failed = self._ingest("insert", [row])
        if succeeded:
            self._lock_id = succeeded[0]["sf__Id"]
            return
        codes = parse_error(pd.Series([f.get("sf__Error", "") for f in failed]))["error_code"].tolist()
        if "DUPLICATE_VALUE" not in codes:
            raise self._refused("could not take the history lock", failed)
        record = self._lock_record()
        if record is None:  # released between our insert and our look: try again
            return self.acquire(lock)
        held = self._lock_of(record)
        if held.holder == lock.holder:  # our own insert, answered twice after a retry
            self._lock_id = str(record["Id"])
            return None
        raise locked_error(self.location, held)

    def release(self) -> None:
        if self._lock_id is not None:
            self._delete(self._lock_id)
            self._lock_id = None

    def break_lock(self) -> LockInfo | None:
        record = self._lock_record()
        if record is None:
            return None
        self._delete(str(record["Id"]))
        return self._lock_of(record)

    def _delete(self, record_id: str) -> None:
        _, failed = self._ingest("delete", [{"Id": record_id}])
        if failed and "ENTITY_IS_DELETED" not in failed[0].get("sf__Error", ""):
            raise self._refused("could not release the history lock", failed)

    def _refused(self, what: str, failed: list[dict[str, str]]) -> HistoryError:
        errors = parse_error(pd.Series([f.get("sf__Error", "") for f in failed]))
        first = errors.iloc[0]
        return HistoryError(f"{what} in {self.location}: {first['error_code']}: {first['message']}"
                            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))

    def _ingest(self, operation: str, rows: list[dict[str, str]], *, external_id: str | None = None
                ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """One Bulk 2.0 job over `rows`: (successful results, failed results). Transient failures of
        the job itself are tried again (every operation here is safe to repeat)."""
        columns = list(rows[0])
        data = header_line(columns) + encode_rows(pd.DataFrame(rows, columns=columns))
        for attempt in range(1, ATTEMPTS):
            try:
                return self._job(operation, data, external_id)
            except TransientApiError:
                self.clock.sleep(0.5 * 2 ** attempt)
        return self._job(operation, data, external_id)

    def _job(self, operation: str, data: bytes, external_id: str | None
             ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        if len(data) < MULTIPART_MAX_CHARS:
            job = self.client.create_ingest_job_with_data(OBJECT, operation, data, external_id_field=external_id)
        else:
            job = self.client.create_ingest_job(OBJECT, operation, external_id)
            self.client.upload_job_data(job.id, data)
            self.client.close_job(job.id)
        final = self.client.wait_for_job(job.id, clock=self.clock.monotonic, sleep=self.clock.sleep,
                                         timeout=JOB_TIMEOUT_SECONDS, poll_initial=0.05, poll_max=1.0)
        if final.is_failed:
            raise HistoryError(f"the history job {job.id} on {self.location} ended {final.state}: "
                               f"{final.error_message or 'no message'}")
        return _rows(self.client.successful_results(job.id)), _rows(self.client.failed_results(job.id))
