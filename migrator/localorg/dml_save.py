"""One batch of text columns through the DML engine, inside the caller's transaction, binaries included.

Bulk API 1.0 batches and REST writes (sObject rows, collections, composite, tree) save records the
same way, so they share this: binary cells (base64 text, or ``#file`` references of a ZIP batch) are
taken out first and a row whose binary cannot be read fails with its reason; the other rows are
validated and written by the engine; then, in the same transaction, the bytes of the saved rows are
stored. The caller owns the transaction (one per Bulk 1.0 batch; one per REST call, or a savepoint
when a composite request holds the outer one), so a rollback undoes everything, bytes included.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from . import blobs
from .dml_engine import BatchResult, DmlContext, DmlEngine
from .dml_plan import DmlPlan
from .dml_write import execute

ContextFor = Callable[[list[pa.Array], int], DmlContext]
"""The engine's context for the rows actually sent to it (their columns and count)."""


def apply_batch(engine: DmlEngine, plan: DmlPlan, columns: list[pa.Array], size: int, context_for: ContextFor,
                resolve: blobs.Resolver) -> BatchResult:
    """Validate and write one batch in the open transaction of the context's connection."""
    binaries = blobs.extract(plan, columns, size, resolve)
    if binaries is None:
        ctx = _reserving(engine, context_for(columns, size))
        prepared = engine.prepare_batch(plan, columns, size, ctx)
        execute(ctx.conn, prepared.statements)
        return prepared.result
    keep = np.flatnonzero(np.equal(binaries.errors, None))
    subset = binaries.take(keep)
    ctx = _reserving(engine, context_for(subset.columns, len(keep)))
    prepared = engine.prepare_batch(plan, subset.columns, len(keep), ctx)
    execute(ctx.conn, prepared.statements)
    part = prepared.result
    blobs.store_binaries(ctx.conn, engine.store, plan.object, subset, part.ids, part.ok, part.created, ctx.user_id,
                         ctx.now)
    ids = np.full(size, "", dtype=object)
    created = np.zeros(size, dtype=bool)
    errors = binaries.errors.copy()
    ids[keep], created[keep], errors[keep] = part.ids, part.created, part.errors
    return BatchResult(ids, created, errors)


def _reserving(engine: DmlEngine, ctx: DmlContext) -> DmlContext:
    if ctx.reserve is None:  # Ids and auto-numbers straight from the counters, inside the caller's transaction
        ctx.reserve = lambda counter, count: engine.store.next_counter(ctx.conn, counter, count)
    return ctx
