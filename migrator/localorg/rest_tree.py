"""sObject Tree (``POST /composite/tree/{Object}``): record trees, parents with their children, all or nothing.

Each record carries ``attributes: {type, referenceId}``; children sit under their parent's child
relationship name (``"Contacts": {"records": [...]}``), up to five levels, 200 records in all. Records
are saved level by level (every root first, then their children with the lookup set to the new
parent, and so on), through the same engine and per-row errors as every other write, in one
transaction. Success: 201 ``{"hasErrors": false, "results": [{referenceId, id}]}`` in level order.
Any record failing: everything is rolled back and the answer is 400 ``{"hasErrors": true, "results":
[{referenceId, errors}]}`` naming the records that failed. A request whose shape is wrong (no
referenceId, a repeated one, a type that is not the relationship's, too many records or levels) is
refused before anything is saved, with the referenceId it concerns where there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .orgschema import FieldDef, ObjectDef
from .rest_call import RestCall, RestResponse, json_object
from .rest_dml import MAX_RECORDS, Chunk, RestWriter, RolledBack, flat_record
from .rest_sobjects import object_of
from .web_common import ApiError

TREE_VERSION = 42.0
MAX_LEVELS = 5


@dataclass
class Node:
    reference_id: str
    object: ObjectDef
    cells: dict[str, str]
    level: int
    parent: Node | None = None
    lookup: FieldDef | None = None  # the child's field that points at `parent`
    id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


class TreeShapeError(ApiError):
    """A tree Salesforce refuses as a whole; answered in the tree's own error shape."""

    def __init__(self, reference_id: str | None, code: str, message: str):
        super().__init__(400, code, message)
        self.reference_id = reference_id


def _nodes(call: RestCall, records: Any, obj: ObjectDef, level: int, parent: Node | None, lookup: FieldDef | None,
           nodes: list[Node], seen: set[str]) -> None:
    if not isinstance(records, list):
        raise TreeShapeError(parent.reference_id if parent else None, "INVALID_INPUT",
                             "records must be a list of sObjects")
    if level >= MAX_LEVELS:
        raise TreeShapeError(parent.reference_id if parent else None, "INVALID_INPUT",
                             f"A tree can have up to {MAX_LEVELS} levels of records")
    for record in records:
        if not isinstance(record, dict):
            raise TreeShapeError(None, "INVALID_INPUT", "each record must be a JSON object")
        attributes = record.get("attributes")
        reference_id = attributes.get("referenceId") if isinstance(attributes, dict) else None
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(reference_id, str) or not reference_id:
            raise TreeShapeError(None, "INVALID_INPUT", "Include a reference ID for each record in the request.")
        if reference_id in seen:
            raise TreeShapeError(reference_id, "INVALID_INPUT", f"Duplicate ReferenceId provided in the request: "
                                                                f"{reference_id}")
        seen.add(reference_id)
        if not isinstance(type_name, str) or call.org.schema.get(type_name) is None or \
                call.org.schema.get(type_name).name != obj.name:
            raise TreeShapeError(reference_id, "INVALID_TYPE", f"The record type must be {obj.name}, not {type_name}")
        plain = {key: value for key, value in record.items() if not _is_children(value)}
        node = Node(reference_id, obj, flat_record(plain, len(nodes), obj), level, parent, lookup)
        nodes.append(node)
        if len(nodes) > MAX_RECORDS:
            raise TreeShapeError(None, "LIMIT_EXCEEDED", f"A tree can hold up to {MAX_RECORDS} records")
        for key, value in record.items():
            if key == "attributes" or not _is_children(value):
                continue
            child = call.org.schema.child_relationship(obj.name, key)
            if child is None:
                raise TreeShapeError(reference_id, "INVALID_FIELD", f"No such column '{key}' on sobject of type "
                                                                    f"{obj.name}")
            _nodes(call, value["records"], child[0], level + 1, node, child[1], nodes, seen)


def _is_children(value: Any) -> bool:
    return isinstance(value, dict) and "records" in value


def tree(call: RestCall, object_name: str, body: Any) -> RestResponse:
    obj = object_of(call, object_name)
    request = json_object(body)
    nodes: list[Node] = []
    try:
        _nodes(call, request.get("records"), obj, 0, None, None, nodes, set())
    except TreeShapeError as exc:
        return RestResponse(400, {"hasErrors": True, "results": [{
            "referenceId": exc.reference_id, "errors": [{"statusCode": exc.code, "message": exc.message,
                                                          "fields": []}]}]})
    writer = RestWriter(call.org)
    try:
        with call.org.store.atomic():
            for level in range(MAX_LEVELS):
                _save_level(call, writer, [n for n in nodes if n.level == level])
            if any(n.errors for n in nodes):
                raise RolledBack()
    except RolledBack:
        call.org.ingest.index_cache.clear()
        return RestResponse(400, {"hasErrors": True, "results": [{"referenceId": n.reference_id, "errors": n.errors}
                                                                 for n in nodes if n.errors]})
    return RestResponse(201, {"hasErrors": False, "results": [{"referenceId": n.reference_id, "id": n.id}
                                                              for n in sorted(nodes, key=lambda n: n.level)]})


def _save_level(call: RestCall, writer: RestWriter, level: list[Node]) -> None:
    """One chunk per object of the level; a child whose parent failed is not attempted."""
    ready = [n for n in level if n.parent is None or n.parent.id is not None]
    for obj_name in dict.fromkeys(n.object.name for n in ready):
        group = [n for n in ready if n.object.name == obj_name]
        for node in group:
            if node.lookup is not None and node.parent is not None:
                node.cells[node.lookup.name] = node.parent.id or ""
        results = writer.save("insert", [Chunk(group[0].object, [n.cells for n in group], list(range(len(group))))],
                              call.user_id, len(group))
        for node, result in zip(group, results, strict=True):
            if result.success:
                node.id = result.id
            else:
                node.errors = list(result.errors)
