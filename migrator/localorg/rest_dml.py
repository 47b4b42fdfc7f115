"""REST writes (sObject rows, collections, composite, tree) through the same DML engine as Bulk.

A JSON record becomes one row of text cells in the Bulk conventions (``bulk1_records.json_record``):
a field the record leaves out is an empty cell (unchanged on update, unset on insert), JSON null and
``""`` are ``#N/A`` (REST has no empty strings: ``""`` clears a field as null does), and a nested
object names a parent by key (``"Account": {"Legacy_Id__c": "A1"}``). So every rule and per-row error
of Bulk applies unchanged: required fields, lengths, picklists, unique and external ids, parents.

Records are saved in chunks of one object (consecutive records of one type, as Salesforce chunks a
mixed collection), each chunk one engine batch, all chunks of a call in one transaction (a savepoint
when a composite request holds the outer one), so ``allOrNone`` rolls back every chunk and records
that were fine say ALL_OR_NONE_OPERATION_ROLLED_BACK. Everything here runs on the DML thread.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import blobs
from .bulk1_records import BatchInputError, json_record, rows_of_records
from .dml_engine import BatchResult, DmlContext
from .dml_plan import DmlPlan, HeaderError, JobRequestError
from .dml_save import apply_batch
from .ids import normalize_id
from .org import LocalOrg
from .orgschema import ObjectDef
from .rowerrors import split_error
from .store import format_datetime, now_utc
from .values import NULL_TOKEN
from .web_common import ApiError

MAX_RECORDS = 200  # per sObject Collections call, composite/tree request
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "fields": [],
               "message": "Record rolled back because not all records were valid and the request was using "
                          "AllOrNone header"}
_VERBS = {"insert": "inserted", "update": "updated", "upsert": "upserted", "delete": "deleted"}
_calls = itertools.count(1)


@dataclass(frozen=True)
class SaveResult:
    """One record's outcome, as a SaveResult / UpsertResult / DeleteResult of the REST API."""

    id: str | None
    success: bool
    created: bool = False
    errors: tuple[dict[str, Any], ...] = ()

    def as_json(self, upsert: bool = False) -> dict[str, Any]:
        """Collections' shape: ``id`` only when there is one (a failed insert has none)."""
        body: dict[str, Any] = {"id": self.id} if self.id else {}
        body.update({"success": self.success, "errors": list(self.errors)})
        if upsert:
            body["created"] = self.created
        return body

    def first_error(self) -> ApiError:
        """A failed single-record call: HTTP 400 ``[{"errorCode", "message", "fields"}]``."""
        error = self.errors[0]
        return ApiError(400, error["statusCode"], error["message"], fields=list(error["fields"]))


def failure(code: str, message: str, fields: Sequence[str] = ()) -> SaveResult:
    return SaveResult(None, False, errors=({"statusCode": code, "message": message, "fields": list(fields)},))


@dataclass
class Chunk:
    """Consecutive records of one object: their flat text cells and their positions in the request."""

    object: ObjectDef
    records: list[dict[str, str]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


class RolledBack(Exception):
    """allOrNone: some record failed, so the transaction is undone."""


def flat_record(record: Any, position: int, obj: ObjectDef) -> dict[str, str]:
    """A REST JSON record as text cells, or 400 JSON_PARSER_ERROR when a value cannot be read.

    Records of plain values (the usual case: this runs for every record of every call) are converted
    inline; one with a nested parent or anything unusual takes the general path, which also explains
    what it cannot read."""
    flat: dict[str, str] = {}
    for name, value in record.items():
        kind = type(value)
        if kind is str:
            flat[name] = value or NULL_TOKEN
        elif value is None:
            flat[name] = NULL_TOKEN
        elif kind is bool:
            flat[name] = "true" if value else "false"
        elif kind is int:
            flat[name] = str(value)
        elif kind is float and math.isfinite(value):
            flat[name] = repr(value)
        elif kind is dict and name == "attributes":
            continue
        else:
            return _general_record(record, position, obj)
    return flat


def _general_record(record: Any, position: int, obj: ObjectDef) -> dict[str, str]:
    try:
        return json_record(record, position + 1, obj, blank_is_null=True)
    except BatchInputError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", exc.message.removeprefix("InvalidBatch : ")) from None


def chunks_of(objects: Sequence[ObjectDef], records: Sequence[dict[str, str]],
              positions: Sequence[int]) -> list[Chunk]:
    """Consecutive records of one object together (Salesforce takes at most ten chunks per call)."""
    chunks: list[Chunk] = []
    for obj, record, position in zip(objects, records, positions, strict=True):
        if not chunks or chunks[-1].object.name != obj.name:
            chunks.append(Chunk(obj))
        chunks[-1].records.append(record)
        chunks[-1].positions.append(position)
    if len(chunks) > 10:
        raise ApiError(400, "INVALID_BATCH_REQUEST", "Too many chunks: records of one type must be together; "
                                                      "a request can hold up to 10 chunks of one type each")
    return chunks


class RestWriter:
    """Saves and deletes REST records with the org's DML engine; call only on the DML thread."""

    def __init__(self, org: LocalOrg):
        self.org = org
        self.engine = org.ingest.engine
        self.store = org.store

    def save(self, operation: str, chunks: Sequence[Chunk], user_id: str, size: int, *,
             external_id_field: str | None = None, all_or_none: bool = False,
             prefilled: dict[int, SaveResult] | None = None) -> list[SaveResult]:
        """insert, update or upsert `chunks` (records at `size` positions; `prefilled` ones already failed)."""
        results: dict[int, SaveResult] = dict(prefilled or {})
        rows = [rows_of_records(chunk.records) for chunk in chunks]
        plans = [self._plan(chunk, operation, batch.headers, external_id_field) for chunk, batch in zip(chunks, rows,
                                                                                                      strict=True)]
        try:
            with self.store.atomic():
                for chunk, plan, batch in zip(chunks, plans, rows, strict=True):
                    outcome = self._apply(plan, batch.columns, batch.row_count, user_id)
                    named = _named_ids(chunk) if operation in ("update", "delete") else None
                    for position, result in zip(chunk.positions, _results(outcome, named), strict=True):
                        results[position] = result
                if all_or_none and not all(r.success for r in results.values()):
                    raise RolledBack()
        except RolledBack:
            self.org.ingest.index_cache.clear()  # it may hold keys of records that were never committed
            kept = operation in ("update", "delete")  # the record named keeps its Id; a new one had none
            return [r if not r.success else SaveResult(r.id if kept else None, False, errors=(ROLLED_BACK,))
                    for r in (results[p] for p in range(size))]
        except BaseException:
            self.org.ingest.index_cache.clear()
            raise
        finally:
            self.org.ingest.index_cache.trim()
        return [results[p] for p in range(size)]

    def delete(self, ids: Sequence[str], user_id: str, all_or_none: bool = False) -> list[SaveResult]:
        """Delete records by Id (any objects, one chunk per object in a row); soft, as Salesforce's."""
        prefilled: dict[int, SaveResult] = {}
        objects, records, positions = [], [], []
        for position, raw in enumerate(ids):
            full = normalize_id(raw.strip())
            obj = self.store.schema.by_key_prefix(full[:3]) if full else None
            if obj is None:
                prefilled[position] = failure("MALFORMED_ID", f"malformed id {raw}")
            elif not obj.deletable:
                prefilled[position] = failure("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: "
                                                                            f"{obj.name}")
            else:
                objects.append(obj)
                records.append({"Id": full})
                positions.append(position)
        return self.save("delete", chunks_of(objects, records, positions), user_id, len(ids),
                         all_or_none=all_or_none, prefilled=prefilled)

    def _plan(self, chunk: Chunk, operation: str, headers: list[str], external_id_field: str | None) -> DmlPlan:
        try:
            return self.engine.prepare(chunk.object.name, operation, headers,
                                       external_id_field if operation == "upsert" else None)
        except JobRequestError as exc:
            if operation == "upsert" and "does not match an External ID" in exc.message:
                raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not "
                                                 f"accessible: {external_id_field}") from None
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION",
                           f"entity type cannot be {_VERBS.get(operation, operation)}: {chunk.object.name}") from None
        except HeaderError as exc:
            raise header_error(chunk.object, exc) from None

    def _apply(self, plan: DmlPlan, columns: list[pa.Array], size: int, user_id: str) -> BatchResult:
        salt = f"rest-{next(_calls)}"
        processor = self.org.ingest

        def context_for(batch_columns: list[pa.Array], rows: int) -> DmlContext:
            return DmlContext(self.store.conn(), user_id, format_datetime(now_utc()), processor.indexes_for(rows),
                              self.org.faults.lock_filter_for(salt, 0, batch_columns, rows))

        return apply_batch(self.engine, plan, columns, size, context_for, blobs.decode_base64)


def header_error(obj: ObjectDef, exc: HeaderError) -> ApiError:
    """A field the object does not have, or a parent key that cannot name one: the whole call fails."""
    detail = exc.message.removeprefix("InvalidBatch : ")
    if detail.startswith("Field name not found : "):
        name = detail.removeprefix("Field name not found : ").split(" (")[0]
        return ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
    if detail.startswith("Duplicate field name: "):
        return ApiError(400, "JSON_PARSER_ERROR", f"Duplicate field selected: {detail.split(': ', 1)[1]}")
    return ApiError(400, "INVALID_FIELD", detail)


def _named_ids(chunk: Chunk) -> list[str | None]:
    """The record each row of an update or delete names by Id (None when it names no record of the object)."""
    named = []
    for cells in chunk.records:
        value = next((v for k, v in cells.items() if k.lower() == "id"), "")
        full = normalize_id(value.strip())
        named.append(full if full and full[:3] == chunk.object.key_prefix else None)
    return named


def _results(outcome: BatchResult, named: list[str | None] | None) -> list[SaveResult]:
    """Per row: a failed row keeps the Id of the record it named (an update, a delete, a matched upsert)."""
    results = []
    for row, (record_id, created, error) in enumerate(zip(outcome.ids.tolist(), outcome.created.tolist(),
                                                          outcome.errors.tolist(), strict=True)):
        if error is None:
            results.append(SaveResult(record_id or None, True, bool(created)))
        else:
            results.append(SaveResult(record_id or (named[row] if named else None), False, False,
                                      (split_error(error),)))
    return results

