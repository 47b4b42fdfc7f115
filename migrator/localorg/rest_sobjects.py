"""sObject Rows and sObject Rows by External ID: one record created, read, updated, deleted or upserted.

Shapes follow the REST API reference: ``POST /sobjects/X`` answers 201 ``{id, success, errors}``;
``PATCH`` and ``DELETE`` by Id answer 204; an upsert by external id answers 201 with the new record,
200 ``{id, success, errors, created: false}`` for an update from v46.0 on (204 before), and 300 with
the URLs of the matches when several records hold the key. A record that fails answers 400
``[{"errorCode", "message", "fields"}]`` with the same per-row error Bulk API would give; a record
that does not exist 404 NOT_FOUND, a deleted one 404 ENTITY_IS_DELETED. Writes run on the DML thread
(the caller sees to it); reads anywhere.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .blobs import read_blob
from .dml_lookups import existing_records
from .ids import normalize_id
from .multipart import FormPart
from .orgschema import FieldDef, ObjectDef
from .rest_call import RestCall, RestResponse, json_object
from .rest_dml import Chunk, RestWriter, SaveResult, flat_record
from .soql import SoqlError, compile_query
from .store import sql_name
from .web_common import ApiError, not_found

UPSERT_RESULT_BODY_VERSION = 46.0  # from v46.0 an upsert that updates answers 200 with a body, not 204
ID_AS_EXTERNAL_ID_VERSION = 37.0  # POST /sobjects/X/Id creates a record


def object_of(call: RestCall, name: str) -> ObjectDef:
    obj = call.org.schema.get(name)
    if obj is None:
        raise not_found()
    return obj


def record_id_of(obj: ObjectDef, value: str) -> str:
    """The 18-character Id in a URL, or 404: an Id of another object names nothing here."""
    full = normalize_id(value)
    if full is None or full[:3] != obj.key_prefix:
        raise not_found()
    return full


# -- reading ------------------------------------------------------------------------------------------
def selected_fields(call: RestCall, obj: ObjectDef, wanted: str | None) -> list[str]:
    """``?fields=A,B`` (checked against the object), or every field (and the compound Name of people)."""
    names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else list(obj.fields)
    if not wanted and obj.field("Name") is None and obj.field("LastName") is not None:
        names.append("Name")
    for name in names:
        if obj.field(name) is None and name.lower() != "name":
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
    return list(dict.fromkeys(names))


def fetch_records(call: RestCall, obj: ObjectDef, where: str, fields: list[str]) -> list[dict[str, Any]]:
    """Records of `obj` matching a SOQL condition the server built, in Id order, shaped as REST returns them."""
    soql = f"SELECT {', '.join(fields)} FROM {obj.name} WHERE {where} ORDER BY Id"
    try:
        query = compile_query(soql, call.org.schema)
    except SoqlError as exc:
        raise ApiError(400, exc.error_code, exc.message) from None
    return list(query.iter_records(call.org.store.conn(), call.version))


def retrieve(call: RestCall, object_name: str, record_id: str) -> RestResponse:
    obj = object_of(call, object_name)
    full = record_id_of(obj, record_id)
    found = fetch_records(call, obj, f"Id = '{full}'", selected_fields(call, obj, call.params.get("fields")))
    if not found:
        raise not_found()
    return RestResponse(200, found[0])


def key_field(obj: ObjectDef, field_name: str) -> FieldDef:
    """The field of a ``/sobjects/X/{field}/{value}`` path: an external id, an idLookup field, or Id."""
    key = obj.field(field_name)
    if key is None or not (key.name == "Id" or key.external_id or key.id_lookup):
        raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                         f"{field_name}")
    return key


def matching_ids(call: RestCall, obj: ObjectDef, key: FieldDef, value: str) -> list[str]:
    """Live records whose `key` equals `value` (compared as the field's column collates)."""
    rows = call.org.store.conn().execute(
        f'SELECT "Id" FROM {sql_name(obj.name)} WHERE {sql_name(key.name)} = ? AND "IsDeleted" = 0 ORDER BY "Id"',
        (value,)).fetchall()
    return [row[0] for row in rows]


def several(call: RestCall, obj: ObjectDef, ids: list[str]) -> RestResponse:
    """300 Multiple Choices: the URLs of the records a key matches."""
    return RestResponse(300, [call.record_url(obj.name, i) for i in ids])


def one_match(call: RestCall, obj: ObjectDef, key: FieldDef, value: str) -> str | RestResponse:
    """The Id of the one live record whose `key` holds `value`, the 300 answer when several do, or 404."""
    ids = matching_ids(call, obj, key, value)
    if len(ids) > 1:
        return several(call, obj, ids)
    if not ids:
        raise not_found()
    return ids[0]


def by_external_id(call: RestCall, object_name: str, field_name: str, value: str) -> RestResponse:
    obj = object_of(call, object_name)
    key = key_field(obj, field_name)
    if key.name == "Id":
        return retrieve(call, object_name, value)
    match = one_match(call, obj, key, value)
    if isinstance(match, RestResponse):
        return match
    records = fetch_records(call, obj, f"Id = '{match}'", selected_fields(call, obj, call.params.get("fields")))
    return RestResponse(200, records[0])


def blob_or_external_id(call: RestCall, object_name: str, first: str, second: str) -> RestResponse:
    """``GET /sobjects/X/{a}/{b}``: a binary field's content when `a` is a record Id of X (sObject Blob
    Retrieve, the bytes with their media type), else the record whose external id field `a` holds `b`."""
    obj = object_of(call, object_name)
    full = normalize_id(first)
    if full is not None and full[:3] == obj.key_prefix and obj.field(first) is None:
        found = read_blob(call.org.store.conn(), call.org.schema, obj.name, full, second)
        if found is None:
            raise not_found()
        return RestResponse(200, found.content, {"Content-Type": found.content_type})
    return by_external_id(call, object_name, first, second)


# -- writing (on the DML thread) --------------------------------------------------------------------------
def _save_one(call: RestCall, operation: str, obj: ObjectDef, cells: dict[str, str],
              external_id_field: str | None = None) -> SaveResult:
    [result] = RestWriter(call.org).save(operation, [Chunk(obj, [cells], [0])], call.user_id, 1,
                                         external_id_field=external_id_field)
    if not result.success:
        raise result.first_error()
    return result


def _existing(call: RestCall, obj: ObjectDef, record_id: str) -> str:
    """The Id of a live record, or 404 NOT_FOUND / ENTITY_IS_DELETED as Salesforce answers for it."""
    full = record_id_of(obj, record_id)
    state = existing_records(call.org.store.conn(), obj.name, [full]).get(full)
    if state is None:
        raise not_found()
    if state == 1:
        raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", fields=[])
    return full


def create(call: RestCall, object_name: str, body: Any) -> RestResponse:
    obj = object_of(call, object_name)
    cells = flat_record(json_object(body), 0, obj)
    result = _save_one(call, "insert", obj, cells)
    return RestResponse(201, {"id": result.id, "success": True, "errors": []},
                        {"Location": call.record_url(obj.name, result.id or "")})


def create_with_blob(call: RestCall, object_name: str, parts: dict[str, FormPart]) -> RestResponse:
    """Insert or Update Blob Data: a multipart body whose non-binary part (`entity_content`,
    `entity_document`, ... : JSON) holds the record and whose part named after the object's binary
    field (VersionData, Body) holds the file's bytes. Answers as a JSON create does."""
    obj = object_of(call, object_name)
    binary = {f.name for f in obj.fields.values() if f.type == "base64"}
    if not binary:
        raise ApiError(400, "INVALID_MULTIPART_REQUEST", f"{obj.name} has no binary field to take a file")
    files = [p for p in parts.values() if p.name in binary]
    entity = next((p for p in parts.values() if p.name not in binary and p.filename is None), None)
    if entity is None:
        raise ApiError(400, "INVALID_MULTIPART_REQUEST", "Multipart message must include a non-binary part")
    if not files:
        raise ApiError(400, "INVALID_MULTIPART_REQUEST", f"Multipart message must include a binary part named "
                                                          f"{' or '.join(sorted(binary))}")
    try:
        record = json.loads(entity.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"The {entity.name} part is not valid JSON: {exc}") from None
    cells = flat_record(json_object(record), 0, obj)
    for part in files:
        cells[part.name] = base64.b64encode(part.content).decode("ascii")
    result = _save_one(call, "insert", obj, cells)
    return RestResponse(201, {"id": result.id, "success": True, "errors": []},
                        {"Location": call.record_url(obj.name, result.id or "")})


def update(call: RestCall, object_name: str, record_id: str, body: Any) -> RestResponse:
    obj = object_of(call, object_name)
    full = _existing(call, obj, record_id)
    cells = flat_record(json_object(body), 0, obj)
    if any(name.lower() == "id" for name in cells):
        raise ApiError(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
    _save_one(call, "update", obj, {"Id": full, **cells})
    return RestResponse(204)


def delete(call: RestCall, object_name: str, record_id: str) -> RestResponse:
    obj = object_of(call, object_name)
    full = _existing(call, obj, record_id)
    [result] = RestWriter(call.org).delete([full], call.user_id)
    if not result.success:
        raise result.first_error()
    return RestResponse(204)


def upsert(call: RestCall, object_name: str, field_name: str, value: str | None, body: Any) -> RestResponse:
    """PATCH (or POST) ``/sobjects/X/{field}/{value}``; ``value`` None is ``POST /sobjects/X/Id`` (create)."""
    obj = object_of(call, object_name)
    key = key_field(obj, field_name)
    cells = flat_record(json_object(body), 0, obj)
    for name in list(cells):
        if name.lower() == "id" and key.name != "Id":
            raise ApiError(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
        if name.lower() == key.name.lower() and value is not None:
            if cells[name].lower() != value.lower():
                raise ApiError(400, "INVALID_FIELD", f"The value of {key.name} in the request body ({cells[name]}) "
                                                     f"does not match the value in the URL ({value})")
            del cells[name]
    if key.name == "Id":
        cells["Id"] = _existing(call, obj, value) if value is not None else ""
    else:
        assert value is not None
        ids = matching_ids(call, obj, key, value)
        if len(ids) > 1:
            return several(call, obj, ids)
        cells[key.name] = value
    result = _save_one(call, "upsert", obj, cells, external_id_field=key.name)
    with_body = float(call.version) >= UPSERT_RESULT_BODY_VERSION
    answer: dict[str, Any] = {"id": result.id, "success": True, "errors": []}
    if with_body:
        answer["created"] = result.created
    if result.created:
        return RestResponse(201, answer, {"Location": call.record_url(obj.name, result.id or "")})
    return RestResponse(200, answer) if with_body else RestResponse(204)


def delete_by_external_id(call: RestCall, object_name: str, field_name: str, value: str) -> RestResponse:
    obj = object_of(call, object_name)
    key = key_field(obj, field_name)
    if key.name == "Id":
        return delete(call, object_name, value)
    match = one_match(call, obj, key, value)
    return match if isinstance(match, RestResponse) else delete(call, object_name, match)

