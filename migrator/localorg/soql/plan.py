"""The record plan of a query (how typed rows become nested REST records), TYPEOF clauses included.

Selected columns are nested by relationship path (``Account.Owner.Email`` under ``Account`` under
``Owner``); hidden columns after the selected ones carry each (parent) record's Id and, for
polymorphic parents, its type. A TYPEOF clause (``TYPEOF What WHEN Account THEN Name, Phone ELSE Name
END``) reads each WHEN type's fields from that type's own join, and the ELSE fields as a polymorphic
path (``What.Name``) reads them; which entries a record gets is decided per row by the parent's type.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..orgschema import FieldDef, ObjectDef
from . import formatting
from .errors import INVALID_TYPE, MALFORMED_QUERY, SoqlError
from .nodes import FieldPath, TypeOf
from .records import Entry, RecordNode, TypeOfNode
from .resolver import Relationship, ResolvedField, Resolver


@dataclass(frozen=True)
class Selected:
    """A plain selected column: its position among the typed columns, its field and relationship path."""

    index: int
    field: FieldDef
    resolved: ResolvedField


@dataclass(frozen=True)
class TypeOfSelect:
    """A compiled TYPEOF: its relationship, and per type (and ELSE) the fields' SQL."""

    name: str  # the relationship name, as records carry it
    relationship: Relationship
    variants: dict[str, tuple[tuple[FieldDef, str], ...]]
    otherwise: tuple[tuple[FieldDef, str], ...]


def compile_typeof(item: TypeOf, resolver: Resolver) -> TypeOfSelect:
    if len(item.field.parts) != 1:
        raise SoqlError(MALFORMED_QUERY, "TYPEOF on a parent's relationship is not supported by the local org",
                        item.field.position)
    anchor = resolver.resolve(FieldPath((*item.field.parts, "Id"), item.field.position))
    relationship = resolver.relationships[tuple(n.lower() for n in anchor.relationship)]
    if len(relationship.targets) < 2:
        raise SoqlError(MALFORMED_QUERY, f"TYPEOF needs a polymorphic relationship; {item.field.text} names one "
                        "object only", item.field.position)
    targets = {obj.name.lower(): (alias, obj) for alias, obj in relationship.targets}
    variants: dict[str, tuple[tuple[FieldDef, str], ...]] = {}
    for type_name, position, paths in item.whens:
        target = targets.get(type_name.lower())
        if target is None:
            raise SoqlError(INVALID_TYPE, f"{type_name} is not an object {item.field.text} can reference",
                            position)
        alias, obj = target
        fields = []
        for path in paths:
            if len(path.parts) != 1:
                raise SoqlError(MALFORMED_QUERY, "Relationship paths in a TYPEOF WHEN clause are not supported by the "
                                "local org", path.position)
            found = resolver.field_on(path.parts[0], alias, obj, anchor.relationship, path)
            fields.append((found.field, found.sql))
        variants[obj.name] = tuple(fields)
    otherwise = []
    for path in item.else_fields:
        found = resolver.resolve(FieldPath((*item.field.parts, *path.parts), path.position))
        otherwise.append((found.field, found.sql))
    return TypeOfSelect(anchor.relationship[0], relationship, variants, tuple(otherwise))


def record_plan(root: ObjectDef, columns: list[Selected], typeofs: list[TypeOfSelect], resolver: Resolver,
                first_hidden: int, hidden: list[str]) -> RecordNode:
    """Nest the selected columns by relationship path; hidden columns carry each record's Id and type."""

    def hidden_column(sql: str) -> int:
        hidden.append(sql)
        return first_hidden + len(hidden) - 1

    root_id = hidden_column('t0."Id"')
    tree: dict[tuple[str, ...], list] = {(): []}
    for column in columns:
        names = column.resolved.relationship
        for depth in range(len(names)):
            prefix = names[:depth + 1]
            if prefix not in tree:
                tree[prefix] = []
                tree[names[:depth]].append(("node", prefix))
        tree[names].append(("field", column.index, column.field))

    def build(prefix: tuple[str, ...]) -> RecordNode:
        if prefix:
            rel = resolver.relationships[tuple(n.lower() for n in prefix)]
            id_index = hidden_column(rel.id_sql)
            polymorphic = len(rel.targets) > 1
            type_index = hidden_column(rel.type_sql) if polymorphic else None
            fixed = rel.targets[0][1].name
        else:
            id_index, type_index, fixed = root_id, None, root.name
        entries: list[Entry] = []
        for entry in tree[prefix]:
            if entry[0] == "node":
                entries.append((entry[1][-1], build(entry[1]), None))
            else:
                _, index, fd = entry
                entries.append((fd.name, index, formatting.json_converter(fd)))
        return RecordNode(id_index, type_index, fixed, tuple(entries))

    def typed(fields: tuple[tuple[FieldDef, str], ...]) -> tuple[Entry, ...]:
        return tuple((fd.name, hidden_column(sql), formatting.json_converter(fd)) for fd, sql in fields)

    plan = build(())
    extra = [(t.name, TypeOfNode(hidden_column(t.relationship.id_sql), hidden_column(t.relationship.type_sql),
                                 {name: typed(fields) for name, fields in t.variants.items()}, typed(t.otherwise)),
              None) for t in typeofs]
    return RecordNode(plan.id_index, plan.type_index, plan.fixed_type, (*plan.entries, *extra))
