"""Bulk API 1.0 ingest payloads (CSV, XML, JSON) as the header + text columns the DML engine reads.

The engine speaks the Bulk CSV conventions (empty cell: leave unchanged / not set; ``#N/A``: null),
so XML and JSON records are translated into them: JSON ``null`` and XML ``xsi:nil="true"`` become
``#N/A``, a field a record leaves out becomes an empty cell, booleans ``true``/``false``, numbers their
decimal text. A parent named by a key is a nested object (reference §3.3): JSON ``"Account":
{"Legacy_Id__c": "A-1"}`` or XML ``<Account><sObject><Legacy_Id__c>A-1</Legacy_Id__c></sObject></Account>``
becomes the column ``Account.Legacy_Id__c``; with a type (``"attributes": {"type": "Lead"}`` or
``<type>Lead</type>``) on a polymorphic lookup, ``Lead:Who.Email``. Anything unreadable raises
BatchInputError whose text is the batch's stateMessage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import pyarrow as pa

from .bulk1_xml import XmlInputError, is_nil, local_name, parse_xml
from .csvformat import CsvInputError, parse_csv
from .orgschema import ObjectDef
from .values import NULL_TOKEN


class BatchInputError(Exception):
    """A batch that cannot be read: `message` is its stateMessage (``InvalidBatch : ...``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BatchRows:
    headers: list[str]
    columns: list[pa.Array]  # text, one per header, no nulls
    row_count: int

    def take(self, rows: Any) -> BatchRows:
        """The rows at the given indices (a numpy int array), in that order."""
        index = pa.array(rows, pa.int64())
        return BatchRows(self.headers, [c.take(index) for c in self.columns], len(index))


def read_rows(data: bytes, kind: str, obj: ObjectDef) -> BatchRows:
    """The records of a CSV, XML or JSON payload for `obj`."""
    if kind == "CSV":
        return _csv_rows(data)
    if kind == "XML":
        return rows_of_records(_xml_records(data, obj))
    if kind == "JSON":
        return rows_of_records(_json_records(data, obj))
    raise BatchInputError(f"InvalidBatch : Unsupported content type {kind}")


def _csv_rows(data: bytes) -> BatchRows:
    """Bulk 1.0 CSV: comma-separated; either line ending (the job has no lineEnding setting)."""
    first = data.find(b"\n")
    line_ending = "CRLF" if first > 0 and data[first - 1:first] == b"\r" else "LF"
    try:
        parsed = parse_csv(data, "COMMA", line_ending)
    except CsvInputError as exc:
        raise BatchInputError(exc.message) from None
    return BatchRows(parsed.headers, [parsed.column(i) for i in range(len(parsed.headers))], parsed.row_count)


def rows_of_records(records: list[dict[str, str]]) -> BatchRows:
    """Flat text records as columns: the union of their fields, a field a record leaves out an empty cell."""
    headers = list(dict.fromkeys(name for record in records for name in record))
    columns = [pa.array([record.get(name, "") for record in records], pa.string()) for name in headers]
    return BatchRows(headers, columns, len(records))


def _relationship_header(obj: ObjectDef, relationship: str, key: str, type_name: str | None) -> str:
    lookup = obj.relationship(relationship)
    if type_name and lookup is not None and lookup.polymorphic:
        return f"{type_name}:{relationship}.{key}"
    return f"{relationship}.{key}"


# -- JSON ----------------------------------------------------------------------------------------------------
def _json_records(data: bytes, obj: ObjectDef) -> list[dict[str, str]]:
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BatchInputError(f"InvalidBatch : Failed to parse the JSON batch: {exc}") from None
    if not isinstance(body, list):
        found = type(body).__name__.replace("dict", "an object").replace("str", "a string")
        raise BatchInputError(f"InvalidBatch : Failed to deserialize the JSON batch: expected an array of records, "
                              f"found {found}")
    return [json_record(record, number, obj) for number, record in enumerate(body, start=1)]


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def json_record(record: Any, number: int, obj: ObjectDef, blank_is_null: bool = False) -> dict[str, str]:
    """One JSON record as flat text cells; `blank_is_null`: ``""`` clears the field as null does (REST)."""
    if not isinstance(record, dict):
        raise BatchInputError(f"InvalidBatch : Failed to deserialize the JSON batch: record {number} is not an object")
    flat: dict[str, str] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, dict):
            attributes = value.get("attributes")
            type_name = attributes.get("type") if isinstance(attributes, dict) else None
            for key, inner in value.items():
                if key != "attributes":
                    flat[_relationship_header(obj, name, key, type_name if isinstance(type_name, str) else None)] = \
                        _json_text(inner, f"{name}.{key}", number, blank_is_null)
            continue
        flat[name] = _json_text(value, name, number, blank_is_null)
    return flat


def _json_text(value: Any, name: str, number: int, blank_is_null: bool = False) -> str:
    if value is None or (blank_is_null and value == ""):
        return NULL_TOKEN
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value
    raise BatchInputError(f"InvalidBatch : Failed to deserialize field {name} of record {number}: expected a "
                          f"string, number, boolean or null")


# -- XML -----------------------------------------------------------------------------------------------------
def _xml_records(data: bytes, obj: ObjectDef) -> list[dict[str, str]]:
    try:
        root = parse_xml(data)
    except XmlInputError as exc:
        raise BatchInputError(f"InvalidBatch : Failed to parse the XML batch: {exc}") from None
    if local_name(root.tag) != "sObjects":
        raise BatchInputError(f"InvalidBatch : The XML batch must have an sObjects root element, found "
                              f"{local_name(root.tag)}")
    records = []
    for number, element in enumerate(root, start=1):
        if local_name(element.tag) != "sObject":
            raise BatchInputError(f"InvalidBatch : Unexpected element {local_name(element.tag)} in sObjects: "
                                  f"each record is an sObject")
        records.append(_xml_record(element, number, obj))
    return records


def _xml_record(element: Element, number: int, obj: ObjectDef) -> dict[str, str]:
    flat: dict[str, str] = {}
    for child in element:
        name = local_name(child.tag)
        if is_nil(child):
            flat[name] = NULL_TOKEN
        elif len(child):
            parent = child[0] if len(child) == 1 and local_name(child[0].tag) == "sObject" else child
            type_name = next((c.text or "").strip() for c in parent if local_name(c.tag) == "type") \
                if any(local_name(c.tag) == "type" for c in parent) else None
            for key_element in _fields_of(parent, number):
                header = _relationship_header(obj, name, local_name(key_element.tag), type_name)
                flat[header] = NULL_TOKEN if is_nil(key_element) else key_element.text or ""
        else:
            flat[name] = child.text or ""
    return flat


def _fields_of(parent: Element, number: int) -> Iterable[Element]:
    for element in parent:
        if local_name(element.tag) == "type":
            continue
        if len(element):
            raise BatchInputError(f"InvalidBatch : Record {number}: a parent can be named by one level of fields "
                                  f"only (found nested {local_name(element.tag)})")
        yield element
