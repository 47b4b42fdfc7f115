"""sObject Collections: up to 200 records created, updated, upserted or deleted in one call, or read by Id.

Every write answers 200 with one result per record, in request order: ``{id, success, errors:
[{statusCode, message, fields}]}`` (upserts add ``created``). With ``allOrNone`` one failure rolls back
the whole call and the other records answer ALL_OR_NONE_OPERATION_ROLLED_BACK. A record without a
usable ``attributes.type`` fails on its own (INVALID_TYPE); a body that cannot be read, more than 200
records, or a field the object does not have fails the call (400). Reads answer the records in the
order of the Ids asked for, ``null`` for an Id that names no live record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .ids import normalize_id
from .orgschema import ObjectDef
from .rest_call import RestCall, RestResponse, flag_of, json_object
from .rest_dml import MAX_RECORDS, RestWriter, SaveResult, chunks_of, failure, flat_record
from .rest_sobjects import fetch_records, key_field, object_of, selected_fields
from .soql.errors import UNSUPPORTED_OBJECT
from .values import NULL_TOKEN
from .web_common import ApiError

COLLECTIONS_VERSION = 42.0
COLLECTIONS_UPSERT_VERSION = 46.0
MAX_RETRIEVE_IDS = 2000
TOO_MANY = "record limit reached. cannot submit more than 200 records into this call"


def _records(body: Any) -> tuple[bool, list[Any]]:
    request = json_object(body)
    records = request.get("records")
    if not isinstance(records, list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body needs records: a list of sObjects")
    if len(records) > MAX_RECORDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", TOO_MANY)
    return flag_of(request, "allOrNone"), records


def _typed(call: RestCall, records: list[Any], only: ObjectDef | None = None
           ) -> tuple[list[ObjectDef], list[dict[str, str]], list[int], dict[int, SaveResult]]:
    """Each record's object (its ``attributes.type``; for updates also its Id's key prefix) and text cells;
    records without a usable type fail on their own."""
    objects: list[ObjectDef] = []
    cells: list[dict[str, str]] = []
    positions: list[int] = []
    prefilled: dict[int, SaveResult] = {}
    by_name: dict[str, ObjectDef | None] = {}
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", f"record {position + 1} is not a JSON object")
        attributes = record.get("attributes")
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        if type_name is None and only is None:
            record_id = next((v for k, v in record.items() if k.lower() == "id" and isinstance(v, str)), None)
            by_prefix = call.org.schema.by_key_prefix(full[:3]) if record_id and (full := normalize_id(record_id)) \
                else None
            type_name = by_prefix.name if by_prefix is not None else None
        if type_name is None and only is not None:
            type_name = only.name
        obj = None
        if isinstance(type_name, str):
            obj = by_name[type_name] if type_name in by_name else by_name.setdefault(type_name,
                                                                                    call.org.schema.get(type_name))
        if obj is None or (only is not None and obj.name != only.name):
            prefilled[position] = failure("INVALID_TYPE", "Must send a concrete entity type." if type_name is None
                                          else UNSUPPORTED_OBJECT.format(name=type_name))
            continue
        objects.append(obj)
        cells.append(flat_record(record, position, obj))
        positions.append(position)
    return objects, cells, positions, prefilled


def _answer(results: Sequence[SaveResult], upsert: bool = False) -> RestResponse:
    return RestResponse(200, [r.as_json(upsert) for r in results])


def create(call: RestCall, body: Any, all_or_none_override: bool | None = None) -> RestResponse:
    all_or_none, records = _records(body)
    objects, cells, positions, prefilled = _typed(call, records)
    id_names = {name for record in cells for name in record if name.lower() == "id"}
    for position, record in zip(positions, cells, strict=True):
        if any(record.get(name, NULL_TOKEN) != NULL_TOKEN for name in id_names):
            prefilled[position] = failure("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
    kept = [i for i, p in enumerate(positions) if p not in prefilled]
    results = RestWriter(call.org).save(
        "insert", chunks_of([objects[i] for i in kept], [cells[i] for i in kept], [positions[i] for i in kept]),
        call.user_id, len(records), all_or_none=_all_or_none(all_or_none, all_or_none_override), prefilled=prefilled)
    return _answer(results)


def update(call: RestCall, body: Any, all_or_none_override: bool | None = None) -> RestResponse:
    all_or_none, records = _records(body)
    objects, cells, positions, prefilled = _typed(call, records)
    results = RestWriter(call.org).save("update", chunks_of(objects, cells, positions), call.user_id, len(records),
                                        all_or_none=_all_or_none(all_or_none, all_or_none_override),
                                        prefilled=prefilled)
    return _answer(results)


def upsert(call: RestCall, object_name: str, field_name: str, body: Any,
           all_or_none_override: bool | None = None) -> RestResponse:
    obj = object_of(call, object_name)
    key = key_field(obj, field_name)
    all_or_none, records = _records(body)
    objects, cells, positions, prefilled = _typed(call, records, only=obj)
    results = RestWriter(call.org).save("upsert", chunks_of(objects, cells, positions), call.user_id, len(records),
                                        external_id_field=key.name,
                                        all_or_none=_all_or_none(all_or_none, all_or_none_override),
                                        prefilled=prefilled)
    return _answer(results, upsert=True)


def delete(call: RestCall, all_or_none_override: bool | None = None) -> RestResponse:
    ids = [i for i in (call.params.get("ids") or "").split(",") if i.strip()]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids: the Ids of the records to delete, separated by commas")
    if len(ids) > MAX_RECORDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", TOO_MANY)
    all_or_none = _all_or_none(call.flag("allOrNone"), all_or_none_override)
    return _answer(RestWriter(call.org).delete(ids, call.user_id, all_or_none))


def retrieve(call: RestCall, object_name: str, body: Any = None) -> RestResponse:
    """``GET ...?ids=&fields=`` or ``POST {"ids": [...], "fields": [...]}`` (the form for long lists)."""
    obj = object_of(call, object_name)
    if body is None:
        ids = [i.strip() for i in (call.params.get("ids") or "").split(",") if i.strip()]
        fields = call.params.get("fields") or ""
    else:
        request = json_object(body)
        ids, names = request.get("ids"), request.get("fields")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or \
                not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body needs ids and fields: lists of strings")
        fields = ",".join(names)
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids: the Ids of the records to read")
    if not fields.strip():
        raise ApiError(400, "MISSING_ARGUMENT", "fields: the fields to read")
    if len(ids) > MAX_RETRIEVE_IDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {MAX_RETRIEVE_IDS} "
                                                 f"records into this call")
    wanted = [normalize_id(i) for i in ids]
    valid = sorted({i for i in wanted if i is not None and i[:3] == obj.key_prefix})
    found: dict[str, dict[str, Any]] = {}
    names = selected_fields(call, obj, fields)
    if "Id" not in names:
        names = ["Id", *names]
    for start in range(0, len(valid), 500):
        group = valid[start:start + 500]
        condition = "Id IN (" + ", ".join(f"'{i}'" for i in group) + ")"
        for record in fetch_records(call, obj, condition, names):
            found[record["Id"]] = record
    asked = {n.lower() for n in selected_fields(call, obj, fields)}
    return RestResponse(200, [_only(found.get(i) if i else None, asked) for i in wanted])


def _only(record: dict[str, Any] | None, asked: set[str]) -> dict[str, Any] | None:
    """The fields asked for (Id is read to match records up, and shown only when asked for)."""
    if record is None:
        return None
    return {k: v for k, v in record.items() if k == "attributes" or k.lower() in asked}


def _all_or_none(requested: bool, override: bool | None) -> bool:
    """A composite request with allOrNone true makes every collection subrequest all-or-none."""
    return True if override else requested
