"""Field paths -> SQL expressions over the store, adding one LEFT JOIN per parent relationship.

``Account.Owner.Email`` from Contact becomes ``j2."Email"`` with
``LEFT JOIN "Account" AS j1 ON j1."Id" = t0."AccountId"`` and
``LEFT JOIN "User" AS j2 ON j2."Id" = j1."OwnerId"``. A polymorphic relationship (``Who`` -> Contact or
Lead) gets one join per target type, guarded by the Id's key prefix so SQLite only probes the table
the Id can live in, and its fields become ``COALESCE`` over the targets that have them.

Two conveniences Salesforce has and the schema does not spell out: ``Name`` on objects that only have
FirstName/LastName (Contact, Lead, User) is computed as Salesforce shows it, and ``Type`` on a
polymorphic relationship is the target's object name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..orgschema import FieldDef, ObjectDef, OrgSchema
from .errors import BAD_RELATIONSHIP, INVALID_FIELD, MALFORMED_QUERY, NO_SUCH_COLUMN, SoqlError
from .nodes import FieldPath

MAX_RELATIONSHIP_DEPTH = 5  # Salesforce: parent paths at most five levels up


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Join:
    alias: str
    sql: str
    depends_on: str | None  # alias of the join this one hangs from (None: the root table)


@dataclass(frozen=True)
class Relationship:
    """One resolved relationship path: its targets' aliases, and SQL for the parent's Id and type."""

    names: tuple[str, ...]  # canonical relationship names from the root, e.g. ("Account", "Owner")
    targets: tuple[tuple[str, ObjectDef], ...]  # (join alias, object) per possible type

    @property
    def id_sql(self) -> str:
        ids = [f'{alias}."Id"' for alias, _ in self.targets]
        return ids[0] if len(ids) == 1 else f"COALESCE({', '.join(ids)})"

    @property
    def type_sql(self) -> str:
        if len(self.targets) == 1:
            return quote_text(self.targets[0][1].name)
        whens = " ".join(f'WHEN {alias}."Id" IS NOT NULL THEN {quote_text(obj.name)}'
                         for alias, obj in self.targets)
        return f"CASE {whens} END"


@dataclass(frozen=True)
class ResolvedField:
    sql: str
    field: FieldDef
    relationship: tuple[str, ...]  # canonical relationship names leading to the field (may be empty)
    joins: frozenset[str]  # join aliases the expression needs (with their ancestors)

    @property
    def column_name(self) -> str:
        return ".".join((*self.relationship, self.field.name))


@dataclass
class Resolver:
    """Resolves paths for one FROM object; remembers the joins it had to add, in dependency order."""

    schema: OrgSchema
    root: ObjectDef
    root_alias: str
    qualifiers: tuple[str, ...]  # lower-case names that may prefix a path: the alias and the object name
    include_deleted: bool = False
    join_prefix: str = "j"
    joins: list[Join] = field(default_factory=list)
    relationships: dict[tuple[str, ...], Relationship] = field(default_factory=dict)

    def resolve(self, path: FieldPath) -> ResolvedField:
        parts = self._strip_qualifier(path.parts)
        if len(parts) - 1 > MAX_RELATIONSHIP_DEPTH:
            raise SoqlError(MALFORMED_QUERY, "SOQL statements cannot query relationships that are more "
                            f"than {MAX_RELATIONSHIP_DEPTH} levels away from the root entity object.",
                            path.position)
        targets: tuple[tuple[str, ObjectDef], ...] = ((self.root_alias, self.root),)
        key: tuple[str, ...] = ()
        names: list[str] = []
        needed: set[str] = set()
        for rel_name in parts[:-1]:
            if len(targets) > 1:  # Salesforce: nothing beyond a polymorphic relationship but its fields
                raise SoqlError(INVALID_FIELD, BAD_RELATIONSHIP.format(name=rel_name), path.position)
            parent_alias, obj = targets[0]
            ref = obj.relationship(rel_name)
            if ref is None or ref.relationship_name is None:
                raise SoqlError(INVALID_FIELD, BAD_RELATIONSHIP.format(name=rel_name), path.position)
            key += (ref.relationship_name.lower(),)
            names.append(ref.relationship_name)
            targets = self._join(key, tuple(names), parent_alias, ref)
            needed.update(self.ancestors(alias for alias, _ in targets))
        return self._field(parts[-1], targets, tuple(names), frozenset(needed), path)

    def _strip_qualifier(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        qualified = len(parts) > 1 and parts[0].lower() in self.qualifiers
        if qualified and self.root.relationship(parts[0]) is None:
            return parts[1:]
        return parts

    def _join(self, key: tuple[str, ...], names: tuple[str, ...], parent_alias: str,
              ref: FieldDef) -> tuple[tuple[str, ObjectDef], ...]:
        if key in self.relationships:
            return self.relationships[key].targets
        targets = []
        for target_name in ref.reference_to:
            target = self.schema.get(target_name)
            if target is None:  # the schema loader guarantees this; stay defensive for hand-made schemas
                raise SoqlError(INVALID_FIELD, BAD_RELATIONSHIP.format(name=names[-1]))
            alias = f"{self.join_prefix}{len(self.joins) + 1}"
            on = [f'{alias}."Id" = {parent_alias}.{quote_ident(ref.name)}']
            if len(ref.reference_to) > 1:
                on.insert(0, f"substr({parent_alias}.{quote_ident(ref.name)}, 1, 3) = "
                             f"{quote_text(target.key_prefix)}")
            if not self.include_deleted:
                on.append(f'{alias}."IsDeleted" = 0')
            join = Join(alias, f"LEFT JOIN {quote_ident(target.name)} AS {alias} ON {' AND '.join(on)}",
                        parent_alias if parent_alias != self.root_alias else None)
            self.joins.append(join)
            targets.append((alias, target))
        self.relationships[key] = Relationship(names, tuple(targets))
        return self.relationships[key].targets

    def ancestors(self, aliases: Iterable[str]) -> set[str]:
        by_alias = {j.alias: j for j in self.joins}
        found: set[str] = set()
        for alias in aliases:
            while alias is not None and alias not in found and alias in by_alias:
                found.add(alias)
                alias = by_alias[alias].depends_on
        return found

    def field_on(self, name: str, alias: str, obj: ObjectDef, names: tuple[str, ...], path: FieldPath) -> ResolvedField:
        """A field of one target of a (polymorphic) relationship: what a TYPEOF WHEN clause selects."""
        return self._field(name, ((alias, obj),), names, frozenset(self.ancestors([alias])), path)

    def _field(self, name: str, targets: tuple[tuple[str, ObjectDef], ...], names: tuple[str, ...],
               needed: frozenset[str], path: FieldPath) -> ResolvedField:
        if len(targets) > 1 and name.lower() == "type":
            # on a polymorphic relationship, Type is the referenced record's object type (What.Type),
            # even when some target objects also have a field called Type
            rel = self.relationships[tuple(n.lower() for n in names)]
            return ResolvedField(rel.type_sql, FieldDef(name="Type", type="string", label="Type"), names, needed)
        exprs: list[str] = []
        found: FieldDef | None = None
        for alias, obj in targets:
            fd = obj.field(name)
            if fd is not None:
                exprs.append(f"{alias}.{quote_ident(fd.name)}")
                found = found or fd
            elif name.lower() == "name" and obj.field("LastName") is not None:
                exprs.append(_person_name(alias, obj))
                found = found or FieldDef(name="Name", type="string", label="Full Name", createable=False,
                                          updateable=False, calculated=True)
        if found is None:
            entity = targets[0][1].name if len(targets) == 1 else "Name"
            raise SoqlError(INVALID_FIELD, NO_SUCH_COLUMN.format(field=name, entity=entity), path.position)
        sql = exprs[0] if len(exprs) == 1 else f"COALESCE({', '.join(exprs)})"
        return ResolvedField(sql, found, names, needed)


def _person_name(alias: str, obj: ObjectDef) -> str:
    """Salesforce's compound Name for people: 'First Last', or just 'Last' when there is no first name."""
    last = f'{alias}."LastName"'
    if obj.field("FirstName") is None:
        return last
    first = f'{alias}."FirstName"'
    return f"CASE WHEN {first} IS NULL OR {first} = '' THEN {last} ELSE {first} || ' ' || {last} END"
