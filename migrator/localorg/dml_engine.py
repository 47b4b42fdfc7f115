"""The DML engine: insert, update, upsert, delete and hardDelete of one batch, with per-row errors.

Independent of HTTP and of the Bulk API flavour: Bulk API 2.0 feeds it CSV columns, Bulk API 1.0
can feed it the same text columns built from XML/JSON records. A batch is validated column by
column (types, lookups, keys, permissions, required and unique fields), then the rows without an
error are written in one transaction with one executemany per kind of write. A row's failure never
affects another row: failing rows are simply not written.

Cells follow the Bulk API's text conventions: an empty cell leaves a field unchanged (update) or
unset (insert), ``#N/A`` sets it to null.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .content_links import check_duplicate_links
from .dml_lookups import ColumnValues, distinct_positions, existing_records, resolve_lookups
from .dml_plan import DmlPlan, check_job_request, plan_columns
from .dml_write import (
    Statement,
    execute,
    hard_delete_statement,
    insert_statement,
    soft_delete_statement,
    update_statement,
)
from .ids import make_ids
from .keyindex import KeyIndex, KeyIndexes
from .orgschema import FieldDef, ObjectDef, OrgSchema
from .rowerrors import RowErrors, row_error
from .store import Store
from .values import NULL_TOKEN, convert_column

NOT_WRITABLE = ("Unable to create/update fields: {name}. Please check the security settings of this field and "
                "verify that it is read/write for your profile or permission set.")


@dataclass
class DmlContext:
    """What a batch runs with: a connection to read, the running user, the time, the job's key indexes.

    `reserve(counter, n)` hands out `n` consecutive numbers of a counter (record Ids, auto-numbers):
    by default straight from the store, which needs the caller's write transaction; a pipelined job
    reserves its numbers up front instead. `deleted` collects the Ids the job has deleted so far, so a
    later batch sees them gone even before the writer has committed them.
    """

    conn: sqlite3.Connection
    user_id: str
    now: str
    indexes: KeyIndexes
    lock_filter: Callable[[np.ndarray], np.ndarray] | None = None  # row indices -> mask of rows "locked"
    reserve: Callable[[str, int], int] | None = None
    deleted: set[str] = field(default_factory=set)


@dataclass
class BatchResult:
    ids: np.ndarray  # object: record Id ('' when none)
    created: np.ndarray  # bool
    errors: np.ndarray  # object: error text or None

    @property
    def ok(self) -> np.ndarray:
        return np.equal(self.errors, None)


@dataclass
class KeyMatch:
    """The index an upsert probed for its keys, and each row's folded key (None for rows not probed)."""

    index: KeyIndex
    keys: np.ndarray


@dataclass
class PreparedBatch:
    """A validated batch: the outcome of every row, and the statements that make it true."""

    result: BatchResult
    statements: list[Statement] = field(default_factory=list)


class DmlEngine:
    def __init__(self, store: Store):
        self.store = store
        self.schema: OrgSchema = store.schema

    def prepare(self, object_name: str, operation: str, headers: list[str],
                external_id_field: str | None = None) -> DmlPlan:
        """JobRequestError for a job Salesforce refuses, HeaderError for an unusable header."""
        obj, key = check_job_request(self.schema, object_name, operation, external_id_field)
        return plan_columns(self.schema, obj, operation, headers, key)

    def run_batch(self, plan: DmlPlan, columns: list[pa.Array], size: int, ctx: DmlContext) -> BatchResult:
        """Validate and apply one batch of `size` rows in one transaction (`columns`: text, by header index)."""
        with self.store.transaction(ctx.conn):
            if ctx.reserve is None:
                ctx.reserve = lambda counter, count: self.store.next_counter(ctx.conn, counter, count)
            prepared = self.prepare_batch(plan, columns, size, ctx)
            execute(ctx.conn, prepared.statements)
        return prepared.result

    def prepare_batch(self, plan: DmlPlan, columns: list[pa.Array], size: int, ctx: DmlContext) -> PreparedBatch:
        """Validate one batch (reads only) and return its outcome plus the statements to apply it."""
        errors = RowErrors(size)
        prepared = PreparedBatch(BatchResult(np.full(size, "", dtype=object), np.zeros(size, dtype=bool),
                                             errors.messages))
        if size == 0:
            return prepared
        if plan.operation in ("delete", "hardDelete"):
            self._delete(plan, columns, size, ctx, errors, prepared)
        else:
            self._save(plan, columns, size, ctx, errors, prepared)
        return prepared

    # -- insert / update / upsert ----------------------------------------------------------------------
    def _save(self, plan: DmlPlan, columns: list[pa.Array], size: int, ctx: DmlContext, errors: RowErrors,
              prepared: PreparedBatch) -> None:
        obj = plan.object
        result = prepared.result
        converted = {c.index: convert_column(c.field, columns[c.index], self._prefixes(c.field))
                     for c in plan.fields}
        for conv in converted.values():
            errors.add(np.asarray(conv.error_rows, dtype=np.int64), conv.error_messages)
        values = {c.field.name: ColumnValues(converted[c.index].values, converted[c.index].given)
                  for c in plan.fields if c.field.type != "reference"}
        values.update(resolve_lookups(ctx.conn, self.schema, plan, columns, converted, errors, ctx.indexes))

        target = np.full(size, None, dtype=object)  # the existing record each row updates
        match: KeyMatch | None = None
        if plan.operation == "insert":
            inserting = np.ones(size, dtype=bool)
            if plan.id_column is not None:
                errors.add(~pc.equal(columns[plan.id_column], "").to_numpy(zero_copy_only=False),
                           row_error("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call",
                                     ["Id"]))
        elif plan.operation == "upsert" and plan.upsert_key is not None and plan.upsert_key.name != "Id":
            inserting, match = self._match_keys(plan, converted, columns, ctx, errors, target)
        else:
            inserting = self._match_ids(plan, columns, size, ctx, errors, target,
                                        blank_inserts=plan.operation == "upsert", verb="update")
        updating = ~inserting & np.not_equal(target, None)
        result.ids[updating] = target[updating]

        self._check_writable(obj, values, inserting, updating, errors)
        self._check_required(obj, values, inserting, updating, errors)
        self._check_unique(obj, values, plan.upsert_key, target, inserting | updating, ctx, errors)
        check_duplicate_links(ctx.conn, obj.name, values, inserting, errors)
        if ctx.lock_filter is not None:
            candidates = np.flatnonzero(errors.ok & (inserting | updating))
            errors.add(candidates[ctx.lock_filter(candidates)],
                       row_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"))

        ok = errors.ok
        stamps = {"LastModifiedDate": ctx.now, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.now}
        new_rows = np.flatnonzero(inserting & ok)
        if new_rows.size:
            new_ids = self._insert(obj, values, new_rows, ctx, stamps, prepared, match)
            result.ids[new_rows] = new_ids
            result.created[new_rows] = True
        changed = np.flatnonzero(updating & ok)
        key_name = plan.upsert_key.name if plan.upsert_key is not None else None
        if changed.size:  # the upsert key already matches (case-insensitively): not rewritten
            prepared.statements.append(update_statement(
                obj.name, target[changed].tolist(),
                {name: (col.values[changed].tolist(), None if col.given[changed].all()
                        else col.given[changed].tolist())
                 for name, col in values.items() if obj.fields[name].updateable and name != key_name},
                stamps))
            for index in ctx.indexes.of_object(obj):
                if index.key.name in values and index.key != plan.upsert_key:
                    index.invalidate()

    def _insert(self, obj: ObjectDef, values: dict[str, ColumnValues], rows: np.ndarray, ctx: DmlContext,
                stamps: dict[str, str], prepared: PreparedBatch, match: KeyMatch | None) -> list[str]:
        assert ctx.reserve is not None
        constants: dict[str, object] = {"IsDeleted": 0, "CreatedDate": ctx.now, "CreatedById": ctx.user_id,
                                        **stamps}
        per_row: dict[str, list[object]] = {}
        for f in obj.fields.values():
            default = _default_value(f, ctx.user_id)
            column = values.get(f.name)
            if f.auto_number:
                first = ctx.reserve(f"auto:{obj.name}.{f.name}", rows.size)
                per_row[f.name] = [f"{n:08d}" for n in range(first, first + rows.size)]
            elif column is not None and f.createable:
                chosen = column.values[rows]
                if default is not None:
                    unset = ~column.given[rows] | np.equal(chosen, None)
                    chosen = np.where(unset, default, chosen)
                else:
                    chosen = np.where(column.given[rows], chosen, None)
                per_row[f.name] = chosen.tolist()
            elif default is not None and f.name not in constants:
                constants[f.name] = default
        new_ids = make_ids(obj.key_prefix, ctx.reserve("id:" + obj.key_prefix, rows.size), rows.size)
        prepared.statements.append(insert_statement(obj.name, new_ids, per_row, constants))
        for index in ctx.indexes.of_object(obj):
            if not index.loaded or index.key.name not in per_row:
                continue
            if match is not None and index is match.index:  # probed just now: these keys are new
                index.added(match.keys[rows].tolist(), new_ids, known_new=True)
            else:
                keys = pa.array([None if k is None else str(k) for k in per_row[index.key.name]], pa.string())
                index.added((keys if index.fold is str else pc.ascii_lower(keys)).to_pylist(), new_ids)
        return new_ids

    def _match_keys(self, plan: DmlPlan, converted, columns: list[pa.Array], ctx: DmlContext,
                    errors: RowErrors, target: np.ndarray) -> tuple[np.ndarray, KeyMatch | None]:
        """Upsert by an external id: which rows insert; matched rows get their record in `target`.

        Also returns the probed index with each row's folded key, so the inserts can be added to the
        index without folding and checking the keys again.
        """
        key = plan.upsert_key
        assert key is not None
        size = len(target)
        column = plan.key_column
        missing = row_error("MISSING_ARGUMENT", f"{key.name} not specified")
        if column is None:
            errors.add(np.ones(size, dtype=bool), missing)
            return np.zeros(size, dtype=bool), None
        conv = converted[column]
        present = conv.given & np.not_equal(conv.values, None)
        errors.add(~present, missing)
        rows = np.flatnonzero(errors.ok)
        index = ctx.indexes.get(plan.object, key)
        raw = columns[column]
        folded = pc.ascii_lower(raw) if index.fold is not str else raw
        distinct, positions = distinct_positions(folded, rows)
        counts = np.bincount(positions, minlength=len(distinct))
        found, several = index.probe(ctx.conn, distinct)
        repeated = counts > 1  # several rows with one key: reported below with each row's spelling
        found[repeated] = None
        target[rows] = found[positions]
        for position, ids in several.items():
            if not repeated[position]:
                errors.add(rows[positions == position], row_error(
                    "DUPLICATE_EXTERNAL_ID", f"{key.name}: more than one record found for external id field: "
                                             f"[{', '.join(ids)}]"))
        if repeated.any():
            errors.add_each(rows[repeated[positions]], lambda row: row_error(
                "DUPLICATE_VALUE", f"Duplicate external id specified: {raw[row].as_py()}", [key.name]))
        inserting = np.zeros(size, dtype=bool)
        inserting[rows] = np.equal(target[rows], None)
        keys = np.full(size, None, dtype=object)
        keys[rows] = np.asarray(distinct, dtype=object)[positions]
        return inserting, KeyMatch(index, keys)

    def _match_ids(self, plan: DmlPlan, columns: list[pa.Array], size: int, ctx: DmlContext, errors: RowErrors,
                   target: np.ndarray, blank_inserts: bool, verb: str, allow_deleted: bool = False) -> np.ndarray:
        """Rows keyed by Id: existing records go to `target`; blank Ids insert (upsert) or fail."""
        obj = plan.object
        missing = row_error("MISSING_ARGUMENT", f"Id not specified in an {verb} call" if verb == "update"
                            else f"Id not specified in a {verb} call")
        if plan.id_column is None:
            if not blank_inserts:
                errors.add(np.ones(size, dtype=bool), missing)
            return np.full(size, blank_inserts, dtype=bool)
        id_field = replace(obj.fields["Id"], label=f"{obj.label} ID")
        raw = columns[plan.id_column]
        conv = convert_column(id_field, raw, frozenset({obj.key_prefix}))
        blank = pc.or_(pc.equal(raw, ""), pc.equal(raw, NULL_TOKEN)).to_numpy(zero_copy_only=False)
        if not blank_inserts:
            errors.add(blank, missing)
        errors.add(np.asarray(conv.error_rows, dtype=np.int64), conv.error_messages)
        rows = np.flatnonzero(errors.ok & ~blank)
        ids = conv.values[rows]
        seen: set[str] = set()
        repeated = np.array([i in seen or seen.add(i) for i in ids.tolist()], dtype=bool)  # type: ignore[func-returns-value]
        errors.add(rows[repeated], [row_error("DUPLICATE_VALUE", f"Duplicate id in list: {i}") for i in ids[repeated]])
        state = existing_records(ctx.conn, obj.name, list(seen))
        state.update(dict.fromkeys(seen & ctx.deleted, 1))  # deleted by an earlier batch of this job
        status = np.array([state.get(i, -1) for i in ids.tolist()], dtype=np.int8)
        errors.add(rows[status == -1], row_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
        if not allow_deleted:
            errors.add(rows[status == 1], row_error("ENTITY_IS_DELETED", "entity is deleted"))
        target[rows] = ids
        return blank & errors.ok if blank_inserts else np.zeros(size, dtype=bool)

    # -- checks ------------------------------------------------------------------------------------------
    def _check_writable(self, obj: ObjectDef, values: dict[str, ColumnValues], inserting: np.ndarray,
                        updating: np.ndarray, errors: RowErrors) -> None:
        for name, col in values.items():
            f = obj.fields[name]
            denied = np.zeros(len(inserting), dtype=bool)
            if not f.createable:
                denied |= inserting
            if not f.updateable:
                denied |= updating
            errors.add(col.given & denied, row_error("INVALID_FIELD_FOR_INSERT_UPDATE",
                                                     NOT_WRITABLE.format(name=name), [name]))

    def _check_required(self, obj: ObjectDef, values: dict[str, ColumnValues], inserting: np.ndarray,
                        updating: np.ndarray, errors: RowErrors) -> None:
        names: list[str] = []
        masks: list[np.ndarray] = []
        for f in obj.fields.values():
            col = values.get(f.name)
            is_null = None if col is None else np.equal(col.values, None)
            if f.required_on_create:
                masks.append(inserting & (True if col is None else ~col.given | is_null))
                names.append(f.name)
            if not f.nillable and f.updateable and col is not None and f.type != "boolean":
                masks.append(updating & col.given & is_null)
                names.append(f.name)
        if not masks:
            return
        stacked = np.vstack(masks)
        rows = np.flatnonzero(stacked.any(axis=0) & errors.ok)
        errors.add(rows, [_required_missing([n for n, m in zip(names, stacked[:, r], strict=True) if m])
                          for r in rows.tolist()])

    def _check_unique(self, obj: ObjectDef, values: dict[str, ColumnValues], upsert_key: FieldDef | None,
                      target: np.ndarray, writing: np.ndarray, ctx: DmlContext, errors: RowErrors) -> None:
        for f in obj.fields.values():
            col = values.get(f.name)
            if not f.unique or col is None or (upsert_key is not None and f.name == upsert_key.name):
                continue
            rows = np.flatnonzero(writing & errors.ok & col.given & np.not_equal(col.values, None))
            if rows.size == 0:
                continue
            index = ctx.indexes.get(obj, f)
            keys = [index.fold(str(v)) for v in col.values[rows].tolist()]
            found = index.find(ctx.conn, set(keys))
            first_row: dict[str, int] = {}
            for row, k in zip(rows.tolist(), keys, strict=True):
                owners = [i for i in found.get(k, []) if i != target[row]]
                if k in first_row:
                    owners = owners or [target[first_row[k]] or ""]
                else:
                    first_row[k] = row
                if owners:
                    errors.add([row], row_error("DUPLICATE_VALUE", f"duplicate value found: {f.name} duplicates "
                                                                   f"value on record with id: {owners[0]}"))

    def _prefixes(self, f: FieldDef) -> frozenset[str]:
        if f.type != "reference":
            return frozenset()
        return frozenset(obj.key_prefix for name in f.reference_to if (obj := self.schema.get(name)) is not None)

    # -- delete ------------------------------------------------------------------------------------------
    def _delete(self, plan: DmlPlan, columns: list[pa.Array], size: int, ctx: DmlContext, errors: RowErrors,
                prepared: PreparedBatch) -> None:
        result = prepared.result
        hard = plan.operation == "hardDelete"
        target = np.full(size, None, dtype=object)
        self._match_ids(plan, columns, size, ctx, errors, target, blank_inserts=False, verb="delete",
                        allow_deleted=hard)
        known = np.not_equal(target, None)
        result.ids[known] = target[known]
        if ctx.lock_filter is not None:
            candidates = np.flatnonzero(errors.ok & known)
            errors.add(candidates[ctx.lock_filter(candidates)],
                       row_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"))
        rows = np.flatnonzero(errors.ok & known)
        ids = target[rows].tolist()
        ctx.deleted.update(ids)
        if hard:
            prepared.statements.append(hard_delete_statement(plan.object.name, ids))
        else:
            prepared.statements.append(soft_delete_statement(
                plan.object.name, ids, {"LastModifiedDate": ctx.now, "LastModifiedById": ctx.user_id,
                                        "SystemModstamp": ctx.now}))
        for index in ctx.indexes.of_object(plan.object):
            index.invalidate()


def _required_missing(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    return row_error("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(unique)}]", unique)


def _default_value(f: FieldDef, user_id: str) -> object:
    """What an insert stores when the header does not set `f` (None: null)."""
    if f.name == "OwnerId" and f.type == "reference":
        return user_id
    if f.type == "boolean":
        if isinstance(f.default_value, str):
            return 1 if f.default_value.strip().lower() in ("true", "1") else 0
        return 1 if f.default_value else 0
    if f.default_value is None or (not f.createable and not f.defaulted_on_create):
        return None
    return f.default_value
