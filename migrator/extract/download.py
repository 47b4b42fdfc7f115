"""Running an extract's queries into chunk files: Bulk API 2.0 with parallel page downloads, Bulk API
1.0 PK chunking, Id-range partitioning; resumable page by page.

- **Bulk API 2.0** (the default): one query job per unit; once it completes, its result pages
  (``resultPages``, v58+) are downloaded side by side, each streamed into its own file, so memory
  holds no page. Older API versions read the pages one locator after another.
- **PK chunking** (``--pk-chunking [SIZE]``): a Bulk API 1.0 job with ``Sforce-Enable-PKChunking``;
  the server splits the query by Id ranges into batches, whose result sets are downloaded side by
  side as they complete.
- **Id ranges** (``--id-ranges ROWS``): the object's Ids are read once (a key-only query), cut every
  ROWS Ids, and each range is its own Bulk API 2.0 job, so ranges run and resume independently.

Every page lands in the extract directory under a temporary name, is renamed, then recorded in the
state (see `state.py`): a resumed extract reuses the job of an unfinished unit when the org still
has it (its results are a snapshot, so the pages it already has match the rest) and downloads only
the pages it lacks; a unit whose job is gone starts over. Progress goes out as events: the rows a
unit will bring once its job completes, and the rows of each page downloaded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from migrator.client.bulk1_client import Bulk1Client
from migrator.client.bulk1_query import pk_chunking_header, query_batches_done, result_batches, wait_for_batches
from migrator.client.bulk2 import RESULT_PAGES_MIN_VERSION, Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.client.http import ApiSession
from migrator.errors import BulkApiError, JobFailedError, NotFoundError
from migrator.extract.chunks import count_rows
from migrator.extract.state import ExtractState, UnitState

log = logging.getLogger("migrator.extract")

Event = Callable[[str, Mapping[str, object]], None]
DEFAULT_PAGE_ROWS = 100_000
DEFAULT_WORKERS = 4


class Cancelled(Exception):
    """The extract was stopped (Ctrl-C while writing): raised in the threads still reading."""


@dataclass(frozen=True)
class DownloadOptions:
    timing: QueryTiming
    page_rows: int = DEFAULT_PAGE_ROWS  # maxRecords of a results page
    workers: int = DEFAULT_WORKERS  # pages (and queries) downloaded at once
    pk_chunking: int | None = None  # Bulk API 1.0 PK chunking with this chunk size
    id_ranges: int | None = None  # Bulk API 2.0 jobs of this many Ids each
    include_deleted: bool = False  # queryAll: soft-deleted records too


@dataclass(frozen=True)
class Query:
    """One query unit to run: `soql` on `object`, for the plan step `step`, by Bulk API 2.0 (``bulk2``)
    or Bulk API 1.0 with PK chunking (``bulk1-pk``)."""

    unit: str
    step: str
    object: str
    soql: str
    api: str = "bulk2"


class Downloader:
    """Runs query units against one org into the extract directory."""

    def __init__(self, session: ApiSession, state: ExtractState, options: DownloadOptions, emit: Event):
        self.session, self.state, self.options, self.emit = session, state, options, emit
        self.bulk2 = Bulk2Client(session)
        self._bulk1: Bulk1Client | None = None
        self.pages = ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="extract-page")
        self._cancelled = threading.Event()

    def close(self) -> None:
        self.pages.shutdown(wait=True, cancel_futures=True)

    def cancel(self) -> None:
        """Stop: queries and pages not started yet are not started (the state keeps what is done)."""
        self._cancelled.set()

    def _check(self) -> None:
        if self._cancelled.is_set():
            raise Cancelled("the extract was stopped")

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bulk1(self) -> Bulk1Client:
        if self._bulk1 is None:
            self._bulk1 = Bulk1Client(self.session)
        return self._bulk1

    # --- many units --------------------------------------------------------------------------------

    def run_all(self, queries: list[Query]) -> list[UnitState]:
        """Run independent units side by side (as many as the workers); their states, in order."""
        if len(queries) <= 1:
            return [self.run(q) for q in queries]
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers), thread_name_prefix="extract-job") as pool:
            return list(pool.map(self.run, queries))

    def run(self, query: Query) -> UnitState:
        """One unit to the end, by the unit's API."""
        self._check()
        api = query.api
        unit = self.state.unit(query.unit, query.step, query.soql, api)
        if unit.done:
            self.emit("extract_total", {"step": query.step, "rows": unit.rows})
            self.emit("extract_rows", {"step": query.step, "rows": unit.rows})
            return unit
        if api == "bulk1-pk":
            self._pk_chunked(unit, query)
        else:
            self._bulk2(unit, query)
        return unit

    # --- Bulk API 2.0 ------------------------------------------------------------------------------

    def _job_still_there(self, unit: UnitState, kind: str) -> bool:
        if unit.job_id is None:
            return False
        try:
            state = (self.bulk2.get_query_job(unit.job_id).state if kind == "bulk2"
                     else self.bulk1.get_job(unit.job_id).state)
        except NotFoundError:
            state = "gone"
        if state in ("Failed", "Aborted", "gone"):
            log.info("unit %s: job %s is %s; starting the unit over", unit.id, unit.job_id, state)
            self.state.restart(unit)
            return False
        return True

    def _bulk2(self, unit: UnitState, query: Query) -> None:
        timing = self.options.timing
        if not self._job_still_there(unit, "bulk2"):
            operation = "queryAll" if self.options.include_deleted else "query"
            self.state.update(unit, job_id=self.bulk2.create_query_job(query.soql, operation=operation).id)
        job_id = unit.job_id
        assert job_id is not None
        info = self.bulk2.wait_for_job(job_id, "query", clock=timing.clock, sleep=timing.sleep, timeout=timing.timeout,
                                       poll_initial=timing.poll_initial, poll_max=timing.poll_max,
                                       on_poll=lambda _: self._check())
        if info.state != "JobComplete":
            raise JobFailedError(f"query job {info.state}: {info.error_message or 'no reason given'}",
                                 job_id=job_id, error_code=info.state)
        self.state.update(unit, total=info.number_records_processed)
        self.emit("extract_total", {"step": query.step, "rows": info.number_records_processed})
        self.emit("extract_rows", {"step": query.step, "rows": unit.rows})
        folder = self.state.paths.chunks(query.step)
        if float(self.session.api_version) >= RESULT_PAGES_MIN_VERSION:
            urls = list(self.bulk2.iter_query_result_urls(job_id, self.options.page_rows))
            wanted = [(f"p{index:05d}", url) for index, url in enumerate(urls, 1)]
            missing = [(name, url) for name, url in wanted if name not in unit.pages]
            futures = [self.pages.submit(self._page, unit, query.step, name, url, folder) for name, url in missing]
            for future in futures:
                future.result()
        else:
            self._pages_by_locator(unit, query.step, folder)
        self.state.update(unit, done=True)
        with contextlib.suppress(BulkApiError):
            self.bulk2.delete_job(job_id, "query")

    def _page(self, unit: UnitState, step: str, name: str, url: str, folder: Path) -> None:
        self._check()
        path = folder / f"{_slug(unit.id)}-{name}.csv"
        rows = self.bulk2.download_query_result_page(url, path, job_id=unit.job_id)
        self.state.add_page(unit, name, path, rows)
        self.emit("extract_rows", {"step": step, "rows": rows, "page": f"{unit.id}/{name}"})

    def _pages_by_locator(self, unit: UnitState, step: str, folder: Path) -> None:
        """API versions before 58: pages one locator after another (a resumed unit reads them all again)."""
        for name in list(unit.pages):
            (self.state.paths.root / unit.pages.pop(name).file).unlink(missing_ok=True)
        assert unit.job_id is not None
        for index, page in enumerate(self.bulk2.iter_query_result_pages(unit.job_id, self.options.page_rows), 1):
            path = folder / f"{_slug(unit.id)}-p{index:05d}.csv"
            _write(path, page.data)
            self.state.add_page(unit, f"p{index:05d}", path, page.number_of_records)
            self.emit("extract_rows", {"step": step, "rows": page.number_of_records, "page": f"{unit.id}/p{index:05d}"})

    # --- Bulk API 1.0 PK chunking -------------------------------------------------------------------

    def _pk_chunked(self, unit: UnitState, query: Query) -> None:
        timing = self.options.timing
        client = self.bulk1
        if not self._job_still_there(unit, "bulk1") or unit.batch_id is None:
            operation = "queryAll" if self.options.include_deleted else "query"
            job = client.create_job(query.object, operation, content_type="CSV",
                                    pk_chunking=pk_chunking_header(self.options.pk_chunking))
            self.state.update(unit, job_id=job.id)
            self.state.update(unit, batch_id=client.add_query_batch(job.id, query.soql).id)
        job_id, original_id = unit.job_id, unit.batch_id
        assert job_id is not None and original_id is not None
        batches = wait_for_batches(client, job_id, lambda bs: query_batches_done(bs, original_id, True),
                                   clock=timing.clock, sleep=timing.sleep, timeout=timing.timeout,
                                   poll_initial=timing.poll_initial, poll_max=max(timing.poll_max, 0.25),
                                   on_poll=lambda _: self._check())
        done = result_batches(batches, original_id, True, job_id)
        total = sum(b.number_records_processed for b in done)
        self.state.update(unit, total=total)
        self.emit("extract_total", {"step": query.step, "rows": total})
        self.emit("extract_rows", {"step": query.step, "rows": unit.rows})
        folder = self.state.paths.chunks(query.step)
        work = [(batch.id, result_id) for batch in done for result_id in client.query_result_ids(job_id, batch.id)]
        missing = [(b, r) for b, r in work if f"{b}-{r}" not in unit.pages]
        futures = [self.pages.submit(self._result_set, unit, query.step, b, r, folder) for b, r in missing]
        for future in futures:
            future.result()
        self.state.update(unit, done=True)
        with contextlib.suppress(BulkApiError):
            client.close_job(job_id)

    def _result_set(self, unit: UnitState, step: str, batch_id: str, result_id: str, folder: Path) -> None:
        self._check()
        assert unit.job_id is not None
        path = folder / f"{_slug(unit.id)}-{batch_id}-{result_id}.csv"
        self.bulk1.download_query_result(unit.job_id, batch_id, result_id, path)
        rows = count_rows(path)
        self.state.add_page(unit, f"{batch_id}-{result_id}", path, rows)
        self.emit("extract_rows", {"step": step, "rows": rows, "page": f"{unit.id}/{batch_id}-{result_id}"})


def _slug(unit_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in unit_id)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)
