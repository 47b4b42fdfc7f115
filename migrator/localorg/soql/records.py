"""REST records from typed SQL rows: how each selected column lands in a (nested) record.

A RecordNode builds one record: its ``attributes`` (type and URL, from hidden Id and type columns)
and its entries in select order: a field (a column index and a JSON converter), a parent record (a
nested RecordNode, null when the lookup is empty), or a TYPEOF record (TypeOfNode: the entries
depend on the parent's actual type, the ELSE entries for any other type). Children of
parent-to-child subqueries are added by the query itself, a block of parents at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .formatting import Converter

Entry = tuple[str, "int | RecordNode | TypeOfNode", "Converter | None"]


@dataclass(frozen=True)
class RecordNode:
    """How to build one (parent) record of a REST result from a typed row."""

    id_index: int
    type_index: int | None  # column holding the object name (polymorphic), else None
    fixed_type: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class TypeOfNode:
    """A polymorphic parent selected with TYPEOF: its fields depend on which object it is."""

    id_index: int
    type_index: int
    variants: dict[str, tuple[Entry, ...]]  # object name -> the WHEN clause's entries
    otherwise: tuple[Entry, ...]  # ELSE


def build(row: tuple[Any, ...], node: RecordNode | TypeOfNode, base: str) -> dict[str, Any] | None:
    record_id = row[node.id_index]
    if record_id is None:
        return None
    if isinstance(node, TypeOfNode):
        kind = row[node.type_index]
        entries = node.variants.get(kind, node.otherwise)
    else:
        kind = row[node.type_index] if node.type_index is not None else node.fixed_type
        entries = node.entries
    record: dict[str, Any] = {"attributes": {"type": kind, "url": f"{base}{kind}/{record_id}"}}
    for key, source, convert in entries:
        if isinstance(source, RecordNode | TypeOfNode):
            record[key] = build(row, source, base)
        else:
            value = row[source]
            record[key] = convert(value) if convert is not None and value is not None else value
    return record
