"""Lookup fields of one batch: Ids given directly, or parents named by key in relationship columns.

Per batch and per column this costs one probe of the parent's key index for the column's distinct
keys (see keyindex.py), never one query per row. A row naming no parent, an unknown one, several
(``Account:What.X`` and ``Opportunity:What.X`` both filled) or a deleted one gets Salesforce's error.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dml_plan import DmlPlan, RelationshipColumn
from .ids import normalize_id
from .keyindex import KeyIndexes
from .orgschema import OrgSchema
from .rowerrors import RowErrors, row_error
from .store import sql_name
from .values import NULL_TOKEN, Converted


@dataclass
class ColumnValues:
    """A field's values for a batch: `values[i]` is meaningful where `given[i]` (None means null)."""

    values: np.ndarray
    given: np.ndarray


def distinct_positions(raw: pa.Array, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct values of `raw[rows]` and, per row in `rows`, the position of its value among them."""
    subset = raw.take(pa.array(rows, pa.int64()))
    distinct = pc.unique(subset)
    positions = pc.index_in(subset, value_set=distinct).to_numpy(zero_copy_only=False)
    return distinct.to_pylist(), positions


def existing_records(conn: sqlite3.Connection, object_name: str, ids: list[str]) -> dict[str, int]:
    """IsDeleted (0/1) of each of `ids` that exists in `object_name`'s table."""
    if not ids:
        return {}
    rows = conn.execute(f'SELECT t."Id", t."IsDeleted" FROM json_each(?) AS j JOIN {sql_name(object_name)} AS t '
                        f'ON t."Id" = j.value', (json.dumps(ids),))
    return dict(rows.fetchall())


def check_parents_exist(conn: sqlite3.Connection, schema: OrgSchema, values: np.ndarray, rows: np.ndarray,
                        errors: RowErrors) -> None:
    """Ids typed straight into lookup columns must name live records (one query per parent object)."""
    if rows.size == 0:
        return
    ids = values[rows]
    by_prefix: dict[str, list[str]] = {}
    for record_id in set(ids.tolist()):
        by_prefix.setdefault(record_id[:3], []).append(record_id)
    state: dict[str, int] = {}
    for prefix, group in by_prefix.items():
        obj = schema.by_key_prefix(prefix)
        if obj is not None:
            state.update(existing_records(conn, obj.name, group))
    missing = np.array([state.get(i) is None for i in ids.tolist()], dtype=bool)
    deleted = np.array([state.get(i) == 1 for i in ids.tolist()], dtype=bool)
    errors.add(rows[missing], row_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
    errors.add(rows[deleted], row_error("ENTITY_IS_DELETED", "entity is deleted"))


def resolve_lookups(conn: sqlite3.Connection, schema: OrgSchema, plan: DmlPlan, columns: list[pa.Array],
                    converted: dict[int, Converted], errors: RowErrors,
                    indexes: KeyIndexes) -> dict[str, ColumnValues]:
    """Final values of every lookup field the header sets, with row errors recorded in `errors`."""
    size = len(errors)
    result: dict[str, ColumnValues] = {}
    for lookup in plan.lookup_fields:
        values = np.full(size, None, dtype=object)
        given = np.zeros(size, dtype=bool)
        sources = np.zeros(size, dtype=np.int8)
        direct = np.zeros(size, dtype=bool)
        for column in plan.fields:
            if column.field.name == lookup.name:
                conv = converted[column.index]
                values[conv.given] = conv.values[conv.given]
                direct |= conv.given & np.not_equal(conv.values, None)
                given |= conv.given
                sources += conv.given
        for rel in plan.relationships:
            if rel.field.name == lookup.name:
                rel_values, rel_given = _resolve_relationship(conn, rel, columns[rel.index], errors, indexes)
                values[rel_given] = rel_values[rel_given]
                given |= rel_given
                sources += rel_given
        errors.add(sources > 1, row_error("INVALID_FIELD", f"More than one value supplied for field {lookup.name}",
                                          [lookup.name]))
        check_parents_exist(conn, schema, values, np.flatnonzero(direct & errors.ok), errors)
        result[lookup.name] = ColumnValues(values, given)
    return result


def _resolve_relationship(conn: sqlite3.Connection, rel: RelationshipColumn, raw: pa.Array, errors: RowErrors,
                          indexes: KeyIndexes) -> tuple[np.ndarray, np.ndarray]:
    size = len(raw)
    values = np.full(size, None, dtype=object)
    given = ~pc.equal(raw, "").to_numpy(zero_copy_only=False)
    keyed = np.flatnonzero(given & ~pc.equal(raw, NULL_TOKEN).to_numpy(zero_copy_only=False))
    if keyed.size == 0:
        return values, given
    if rel.key.name == "Id":
        distinct, positions = distinct_positions(raw, keyed)
        normalized = [normalize_id(v.strip()) for v in distinct]
        state = existing_records(conn, rel.target.name, [i for i in normalized if i])
        found = np.empty(len(distinct), dtype=object)
        found[:] = [i if i and state.get(i) == 0 else None for i in normalized]
        several: dict[int, list[str]] = {}
    else:
        index = indexes.get(rel.target, rel.key)
        distinct, positions = distinct_positions(raw if index.fold is str else pc.ascii_lower(raw), keyed)
        found, several = index.probe(conn, distinct)
    values[keyed] = found[positions]
    unresolved = np.flatnonzero(np.equal(found, None))
    if unresolved.size:
        failure = np.full(len(distinct), None, dtype=object)
        first_row = np.zeros(len(distinct), dtype=np.int64)
        named, first = np.unique(positions, return_index=True)
        first_row[named] = keyed[first]  # the first row naming each key: its spelling goes in the message
        for position in unresolved.tolist():
            failure[position] = _not_resolved(rel, raw[int(first_row[position])].as_py(), several.get(position, []))
        row_failures = failure[positions]
        failed = np.not_equal(row_failures, None)
        errors.add(keyed[failed], row_failures[failed].tolist())
    return values, given


def _not_resolved(rel: RelationshipColumn, value: str, ids: list[str]) -> str:
    if not ids:
        return row_error("INVALID_FIELD", f"Foreign key external ID: {value} not found for field {rel.key.name} "
                                          f"in entity {rel.target.name}")
    return row_error("DUPLICATE_EXTERNAL_ID", f"{rel.key.name}: more than one record found for external id "
                                              f"field: [{', '.join(ids)}]", [rel.field.name])
