"""Bulk API 1.0 queries into one CSV file: plain, or PK-chunked for large objects.

PK chunking (``Sforce-Enable-PKChunking``) makes the server split a query by record Id ranges into
one batch per chunk; the batch we posted becomes NotProcessed and the chunks carry the data. That
is how Salesforce reads tens of millions of rows without query timeouts. Every chunk's result sets
are appended to one CSV (header once), streamed, so memory stays flat whatever the size.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from migrator.client.bulk1_client import Bulk1Client
from migrator.client.bulk1_results import CsvConcatenator
from migrator.client.bulk1_xml import BatchInfo
from migrator.client.error_mapping import classify_error
from migrator.client.polling import poll_until
from migrator.errors import BulkApiError, InvalidRequestError

log = logging.getLogger("migrator.client")

CHUNK_BYTES = 1 << 20
DEFAULT_QUERY_TIMEOUT = 3600.0
MAX_PK_CHUNK_SIZE = 250_000
_CODE_PREFIX = re.compile(r"^\s*([A-Za-z_]+)\s*:")


def pk_chunking_header(chunk_size: int | None = None, parent: str | None = None,
                       start_row: str | None = None) -> str:
    """Value of ``Sforce-Enable-PKChunking``: ``chunkSize=N; parent=Obj; startRow=Id``, or ``TRUE``."""
    parts = []
    if chunk_size is not None:
        if not 1 <= chunk_size <= MAX_PK_CHUNK_SIZE:
            raise InvalidRequestError(f"PK chunk size must be 1..{MAX_PK_CHUNK_SIZE:,}, not {chunk_size}")
        parts.append(f"chunkSize={chunk_size}")
    if parent:
        parts.append(f"parent={parent}")
    if start_row:
        parts.append(f"startRow={start_row}")
    return "; ".join(parts) or "TRUE"


def wait_for_batches(client: Bulk1Client, job_id: str,
                     is_done: Callable[[list[BatchInfo]], bool] | None = None, *,
                     clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                     timeout: float | None = DEFAULT_QUERY_TIMEOUT, poll_initial: float = 0.5,
                     poll_max: float = 10.0,
                     on_poll: Callable[[list[BatchInfo]], None] | None = None) -> list[BatchInfo]:
    """Poll the job's batch list until `is_done` (default: there are batches and all are terminal)."""
    def all_terminal(batches: list[BatchInfo]) -> bool:
        return bool(batches) and all(batch.is_terminal for batch in batches)

    return poll_until(lambda: client.list_batches(job_id), is_done or all_terminal, clock=clock, sleep=sleep,
                      timeout=timeout, poll_initial=poll_initial, poll_max=poll_max, on_poll=on_poll,
                      job_id=job_id)


def query_batches_done(batches: list[BatchInfo], original_id: str, chunked: bool) -> bool:
    """The posted batch is terminal, and with PK chunking every chunk batch too (the chunks exist by
    the time the original turns NotProcessed)."""
    original = next((batch for batch in batches if batch.id == original_id), None)
    if original is None or not original.is_terminal:
        return False
    return not chunked or all(batch.is_terminal for batch in batches)


def result_batches(batches: list[BatchInfo], original_id: str, chunked: bool, job_id: str) -> list[BatchInfo]:
    """The batches holding data, in list order; raise for a Failed batch (naming its stateMessage)."""
    for batch in batches:
        if batch.state == "Failed":
            message = batch.state_message or "no reason given"
            match = _CODE_PREFIX.match(message)
            code = match.group(1) if match else None
            error = classify_error(None, code, message)
            raise error(f"query batch {batch.id} failed: {message}", error_code=code, job_id=job_id)
    if not chunked:
        original = next(batch for batch in batches if batch.id == original_id)
        if original.state != "Completed":
            raise InvalidRequestError(f"query batch {original_id} was not processed ({original.state})",
                                      job_id=job_id)
        return [original]
    return [batch for batch in batches if batch.state == "Completed"]


def query(client: Bulk1Client, soql: str, object: str, dest: Path, *, operation: str = "query",
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
          timeout: float | None = DEFAULT_QUERY_TIMEOUT, poll_initial: float = 0.5, poll_max: float = 10.0) -> int:
    """Run `soql` (``query`` or ``queryAll``) as one Bulk 1.0 CSV query batch into `dest`; return the
    number of rows. `object` must be the query's FROM object (the job is created on it)."""
    return _run(client, soql, object, dest, operation=operation, pk_chunking=None, clock=clock, sleep=sleep,
                timeout=timeout, poll_initial=poll_initial, poll_max=poll_max)


def pk_chunked_query(client: Bulk1Client, soql: str, object: str, dest: Path, *, chunk_size: int = 100_000,
                     parent: str | None = None, start_row: str | None = None, operation: str = "query",
                     clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                     timeout: float | None = DEFAULT_QUERY_TIMEOUT, poll_initial: float = 0.5,
                     poll_max: float = 10.0) -> int:
    """Like `query`, split by the server into Id-range chunks of `chunk_size` rows (`parent` for share
    and history objects, e.g. ``AccountShare`` -> ``Account``). All chunks land in one CSV at `dest`
    (header once); returns the number of rows."""
    header = pk_chunking_header(chunk_size, parent, start_row)
    return _run(client, soql, object, dest, operation=operation, pk_chunking=header, clock=clock, sleep=sleep,
                timeout=timeout, poll_initial=poll_initial, poll_max=poll_max)


def _run(client: Bulk1Client, soql: str, object: str, dest: Path, *, operation: str, pk_chunking: str | None,
         clock: Callable[[], float], sleep: Callable[[float], None], timeout: float | None,
         poll_initial: float, poll_max: float) -> int:
    if operation not in ("query", "queryAll"):
        raise InvalidRequestError(f"operation must be query or queryAll, not {operation!r}")
    chunked = pk_chunking is not None
    job = client.create_job(object, operation, content_type="CSV", pk_chunking=pk_chunking)
    partial = dest.with_name(dest.name + ".part")
    try:
        original = client.add_query_batch(job.id, soql)
        batches = wait_for_batches(client, job.id, lambda bs: query_batches_done(bs, original.id, chunked),
                                   clock=clock, sleep=sleep, timeout=timeout, poll_initial=poll_initial,
                                   poll_max=poll_max)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            joined = CsvConcatenator(out)
            for batch in result_batches(batches, original.id, chunked, job.id):
                for result_id in client.query_result_ids(job.id, batch.id):
                    with client.open_query_result(job.id, batch.id, result_id) as response:
                        joined.add(response.iter_content(CHUNK_BYTES))
    except BaseException:
        partial.unlink(missing_ok=True)
        _quietly(lambda: client.abort_job(job.id), f"could not abort query job {job.id}")
        raise
    partial.replace(dest)
    _quietly(lambda: client.close_job(job.id), f"could not close query job {job.id}")
    log.info("query job %s: %d rows from %d result set(s) into %s", job.id, joined.records, joined.result_sets,
             dest)
    return joined.records


def _quietly(action: Callable[[], object], message: str) -> None:
    try:
        action()
    except BulkApiError as exc:
        log.warning("%s: %s", message, exc)
