"""Bulk API 2.0: every ingest and query endpoint, one method each, over an `ApiSession`.

This layer speaks the wire protocol and nothing else: it knows jobs, states and result CSVs, not
plans or steps. Large bodies are streamed both ways (uploads from a file, results into a file),
so memory stays flat whatever the job size.
"""

from __future__ import annotations

import csv
import gzip as gzip_module
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

from migrator.client.http import ApiSession
from migrator.client.polling import poll_until
from migrator.errors import InvalidRequestError, LimitExceededError

if TYPE_CHECKING:
    import requests

JobKind = Literal["ingest", "query"]

TERMINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
FAILED_STATES = frozenset({"Failed", "Aborted"})
INGEST_OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
QUERY_OPERATIONS = frozenset({"query", "queryAll"})
COLUMN_DELIMITERS = {"BACKQUOTE": "`", "CARET": "^", "COMMA": ",", "PIPE": "|", "SEMICOLON": ";",
                     "TAB": "\t"}
LINE_ENDINGS = frozenset({"LF", "CRLF"})
CHUNK_BYTES = 1 << 20
CSV_UPLOAD = "text/csv; charset=UTF-8"
MULTIPART_MAX_CHARS = 100_000  # CSV characters a multipart create takes (reference §1.3, §3.4)
RESULT_PAGES_MIN_VERSION = 58.0  # first API version with GET .../resultPages (reference §2.5)


def _to_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class JobInfo:
    """A Bulk API 2.0 job as the server describes it (ingest or query). `raw` keeps every field."""

    id: str
    object: str | None
    operation: str
    state: str
    external_id_field_name: str | None = None
    content_type: str = "CSV"
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    api_version: str | None = None
    job_type: str | None = None
    created_date: str | None = None
    system_modstamp: str | None = None
    number_records_processed: int = 0
    number_records_failed: int = 0
    retries: int = 0
    total_processing_time: int = 0
    error_message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> JobInfo:
        version = payload.get("apiVersion")
        return cls(
            id=str(payload["id"]), object=payload.get("object"), operation=str(payload.get("operation", "")),
            state=str(payload.get("state", "")), external_id_field_name=payload.get("externalIdFieldName"),
            content_type=payload.get("contentType") or "CSV",
            column_delimiter=payload.get("columnDelimiter") or "COMMA",
            line_ending=payload.get("lineEnding") or "LF",
            api_version=None if version is None else f"{float(version):.1f}",
            job_type=payload.get("jobType"), created_date=payload.get("createdDate"),
            system_modstamp=payload.get("systemModstamp"),
            number_records_processed=_to_int(payload.get("numberRecordsProcessed")),
            number_records_failed=_to_int(payload.get("numberRecordsFailed")),
            retries=_to_int(payload.get("retries")),
            total_processing_time=_to_int(payload.get("totalProcessingTime")),
            error_message=payload.get("errorMessage") or None, raw=dict(payload))

    @property
    def is_terminal(self) -> bool:
        """JobComplete, Failed or Aborted: polling can stop."""
        return self.state in TERMINAL_STATES

    @property
    def is_failed(self) -> bool:
        """Failed or Aborted (rows may still have been saved before that; see the result files)."""
        return self.state in FAILED_STATES


class ResultPage(NamedTuple):
    """One page of query results: CSV bytes (header row included), the next locator, the row count."""

    data: bytes
    next_locator: str | None
    number_of_records: int


def _check_choice(name: str, value: str, allowed: frozenset[str] | dict[str, str]) -> None:
    if value not in allowed:
        raise InvalidRequestError(f"{name} must be one of {', '.join(sorted(allowed))}, not {value!r}")


def _count_csv_records(data: bytes) -> int:
    rows = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8", "replace"))))
    return max(rows - 1, 0)


def _ingest_job_body(object: str, operation: str, external_id_field: str | None, line_ending: str,
                     column_delimiter: str, assignment_rule_id: str | None) -> dict[str, Any]:
    """The create-job JSON (reference §1.2), checked before any call: the JSON and the multipart
    create send the same body, so they refuse the same mistakes the same way."""
    _check_choice("operation", operation, INGEST_OPERATIONS)
    _check_choice("line_ending", line_ending, LINE_ENDINGS)
    _check_choice("column_delimiter", column_delimiter, COLUMN_DELIMITERS)
    if operation == "upsert" and not external_id_field:
        raise InvalidRequestError(f"upsert of {object} needs an external id field")
    body: dict[str, Any] = {"object": object, "operation": operation, "contentType": "CSV",
                            "lineEnding": line_ending, "columnDelimiter": column_delimiter}
    if external_id_field and operation == "upsert":
        body["externalIdFieldName"] = external_id_field
    if assignment_rule_id:
        body["assignmentRuleId"] = assignment_rule_id
    return body


def _check_multipart_size(data: bytes) -> None:
    """Refuse CSV over the multipart limit before sending it, rather than after a round trip. The
    byte count bounds the character count from above, so only data near the limit is decoded."""
    if len(data) <= MULTIPART_MAX_CHARS:
        return
    chars = len(data.decode("utf-8", "replace"))
    if chars > MULTIPART_MAX_CHARS:
        raise LimitExceededError(f"{chars:,} characters of CSV; a multipart job creation takes at most "
                                 f"{MULTIPART_MAX_CHARS:,} (create the job, then upload_job_data)")


class Bulk2Client:
    """Raw Bulk API 2.0 calls. Paths are relative to ``/services/data/vXX.X``."""

    def __init__(self, api: ApiSession):
        self.api = api

    # --- ingest -------------------------------------------------------------------------------

    def create_ingest_job(self, object: str, operation: str, external_id_field: str | None = None,
                          line_ending: str = "LF", column_delimiter: str = "COMMA",
                          assignment_rule_id: str | None = None) -> JobInfo:
        body = _ingest_job_body(object, operation, external_id_field, line_ending, column_delimiter,
                                assignment_rule_id)
        return self._job("POST", "jobs/ingest", json_body=body)

    def create_ingest_job_with_data(self, object: str, operation: str, data: bytes, *,
                                    external_id_field: str | None = None, line_ending: str = "LF",
                                    column_delimiter: str = "COMMA",
                                    assignment_rule_id: str | None = None) -> JobInfo:
        """Create a job and give it its CSV in one multipart call (reference §1.3): one request
        instead of create, upload and close, for small loads. The job comes back UploadComplete,
        already queued. Salesforce takes at most 100,000 characters this way; more is refused
        here with `LimitExceededError`, before any call."""
        body = _ingest_job_body(object, operation, external_id_field, line_ending, column_delimiter,
                                assignment_rule_id)
        content = bytes(data)
        _check_multipart_size(content)
        parts = {"job": (None, json.dumps(body).encode("utf-8"), "application/json"),
                 "content": ("content", content, "text/csv")}
        return self._job("POST", "jobs/ingest", files=parts)

    def upload_job_data(self, job_id: str, data: bytes | Path, gzip: bool = False) -> None:
        """PUT the CSV; a Path is streamed from disk (gzip-compressed through a temp file if asked)."""
        headers = {"Content-Type": CSV_UPLOAD}
        if gzip:
            headers["Content-Encoding"] = "gzip"
        path = f"jobs/ingest/{job_id}/batches"
        if isinstance(data, bytes | bytearray):
            body = gzip_module.compress(bytes(data)) if gzip else bytes(data)
            self.api.request("PUT", path, job_id=job_id, headers=headers, data=body).close()
            return
        with open(data, "rb") as source:
            if not gzip:
                self.api.request("PUT", path, job_id=job_id, headers=headers, data=source).close()
                return
            with tempfile.TemporaryFile() as packed:
                with gzip_module.GzipFile(fileobj=packed, mode="wb", compresslevel=6) as zipper:
                    shutil.copyfileobj(source, zipper, CHUNK_BYTES)
                packed.seek(0)
                self.api.request("PUT", path, job_id=job_id, headers=headers, data=packed).close()

    def close_job(self, job_id: str) -> JobInfo:
        """Mark the upload complete: the server queues the job for processing."""
        return self._set_state("ingest", job_id, "UploadComplete")

    def abort_job(self, job_id: str, kind: JobKind = "ingest") -> JobInfo:
        return self._set_state(kind, job_id, "Aborted")

    def get_ingest_job(self, job_id: str) -> JobInfo:
        return self._job("GET", f"jobs/ingest/{job_id}", job_id=job_id)

    def get_query_job(self, job_id: str) -> JobInfo:
        return self._job("GET", f"jobs/query/{job_id}", job_id=job_id)

    def get_job(self, job_id: str, kind: JobKind = "ingest") -> JobInfo:
        return self.get_ingest_job(job_id) if kind == "ingest" else self.get_query_job(job_id)

    def delete_job(self, job_id: str, kind: JobKind = "ingest") -> None:
        """Delete a terminal job and its results (the server answers 204)."""
        self.api.request("DELETE", f"jobs/{kind}/{job_id}", job_id=job_id).close()

    def list_ingest_jobs(self, *, job_type: str | None = None, is_pk_chunking_enabled: bool | None = None,
                         concurrency_mode: str | None = None) -> Iterator[JobInfo]:
        return self._list("jobs/ingest", job_type, is_pk_chunking_enabled, concurrency_mode)

    def list_query_jobs(self, *, job_type: str | None = None, is_pk_chunking_enabled: bool | None = None,
                        concurrency_mode: str | None = None) -> Iterator[JobInfo]:
        return self._list("jobs/query", job_type, is_pk_chunking_enabled, concurrency_mode)

    @overload
    def successful_results(self, job_id: str, dest: Path) -> Path: ...
    @overload
    def successful_results(self, job_id: str, dest: None = None) -> bytes: ...
    def successful_results(self, job_id: str, dest: Path | None = None) -> Path | bytes:
        """``sf__Id,sf__Created,<columns as uploaded>`` rows, to `dest` (returned) or as bytes."""
        return self._results(job_id, "successfulResults", dest)

    @overload
    def failed_results(self, job_id: str, dest: Path) -> Path: ...
    @overload
    def failed_results(self, job_id: str, dest: None = None) -> bytes: ...
    def failed_results(self, job_id: str, dest: Path | None = None) -> Path | bytes:
        """``sf__Id,sf__Error,<columns as uploaded>`` rows, to `dest` (returned) or as bytes."""
        return self._results(job_id, "failedResults", dest)

    @overload
    def unprocessed_records(self, job_id: str, dest: Path) -> Path: ...
    @overload
    def unprocessed_records(self, job_id: str, dest: None = None) -> bytes: ...
    def unprocessed_records(self, job_id: str, dest: Path | None = None) -> Path | bytes:
        """Rows never attempted (job Failed/Aborted), columns as uploaded."""
        return self._results(job_id, "unprocessedrecords", dest)

    # --- query --------------------------------------------------------------------------------

    def create_query_job(self, soql: str, operation: str = "query", column_delimiter: str = "COMMA",
                         line_ending: str = "LF") -> JobInfo:
        _check_choice("operation", operation, QUERY_OPERATIONS)
        _check_choice("line_ending", line_ending, LINE_ENDINGS)
        _check_choice("column_delimiter", column_delimiter, COLUMN_DELIMITERS)
        body = {"operation": operation, "query": soql, "contentType": "CSV",
                "columnDelimiter": column_delimiter, "lineEnding": line_ending}
        return self._job("POST", "jobs/query", json_body=body)

    def get_query_results(self, job_id: str, locator: str | None = None,
                          max_records: int | None = None) -> ResultPage:
        """One page. Every page starts with the header row; `next_locator` is None on the last."""
        with self._query_page(job_id, locator, max_records, stream=False) as response:
            return self._read_page(response)

    def iter_query_result_urls(self, job_id: str, max_records: int | None = None) -> Iterator[str]:
        """The URL of every results page of a JobComplete query job (``resultPages``, v58+), up to
        five per call, following ``nextRecordsUrl`` until done. Each URL carries its own locator,
        so pages can be fetched in parallel (`get_query_result_page`) instead of one locator after
        another. `max_records` caps the rows of each page. Refused before any call on a session
        older than v58, where the server would answer only a bare 404."""
        if float(self.api.api_version) < RESULT_PAGES_MIN_VERSION:
            raise InvalidRequestError(f"resultPages needs API version {RESULT_PAGES_MIN_VERSION:.1f} or later; "
                                      f"this session uses {self.api.api_version} (use iter_query_result_pages)")
        params = {"maxRecords": str(max_records)} if max_records else None
        return (str(page["resultUrl"])
                for payload in self._follow(f"jobs/query/{job_id}/resultPages", params, job_id=job_id)
                for page in payload.get("resultPages") or [])

    def download_query_result_page(self, result_url: str, dest: Path, job_id: str | None = None) -> int:
        """Stream one page named by a `iter_query_result_urls` URL into `dest` (header row included,
        written to a temporary name and renamed); return its number of records."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        try:
            with self._csv_get(result_url, job_id=job_id, stream=True) as response, open(partial, "wb") as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
                count = response.headers.get("Sforce-NumberOfRecords")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(dest)
        return _to_int(count) if count is not None else _count_csv_records(dest.read_bytes())

    def get_query_result_page(self, result_url: str, job_id: str | None = None) -> ResultPage:
        """One page named by a `iter_query_result_urls` URL, read like a `get_query_results` page.
        `job_id` only labels errors."""
        with self._csv_get(result_url, job_id=job_id) as response:
            return self._read_page(response)

    def iter_query_result_pages(self, job_id: str, max_records: int | None = None) -> Iterator[ResultPage]:
        locator: str | None = None
        while True:
            page = self.get_query_results(job_id, locator, max_records)
            yield page
            if page.next_locator is None:
                return
            locator = page.next_locator

    def download_query_results(self, job_id: str, dest: Path, max_records: int | None = None) -> int:
        """Stream every page into one CSV at `dest` (one header row); return the number of records."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        total, locator, first = 0, None, True
        with open(partial, "wb") as out:
            while True:
                with self._query_page(job_id, locator, max_records, stream=True) as response:
                    chunks = response.iter_content(CHUNK_BYTES)
                    if not first:
                        chunks = _skip_first_line(chunks)
                    for chunk in chunks:
                        out.write(chunk)
                    count_header = response.headers.get("Sforce-NumberOfRecords")
                    locator = _locator(response.headers.get("Sforce-Locator"))
                total += _to_int(count_header)
                first = False
                if locator is None:
                    break
        partial.replace(dest)
        return total

    # --- waiting ------------------------------------------------------------------------------

    def wait_for_job(self, job_id: str, kind: JobKind = "ingest", *, clock: Callable[[], float],
                     sleep: Callable[[float], None], timeout: float | None, poll_initial: float = 0.5,
                     poll_max: float = 10.0, on_poll: Callable[[JobInfo], None] | None = None) -> JobInfo:
        """Poll until the job is terminal and return its final JobInfo (Failed/Aborted included:
        the caller decides, since a failed job can still have results to fetch)."""
        return poll_until(lambda: self.get_job(job_id, kind), lambda info: info.is_terminal, clock=clock,
                          sleep=sleep, timeout=timeout, poll_initial=poll_initial, poll_max=poll_max,
                          on_poll=on_poll, job_id=job_id)

    # --- internals ----------------------------------------------------------------------------

    def _job(self, method: str, path: str, *, job_id: str | None = None, json_body: Any = None,
             files: Mapping[str, Any] | None = None) -> JobInfo:
        with self.api.request(method, path, job_id=job_id, json_body=json_body, files=files) as response:
            return JobInfo.from_json(response.json())

    def _set_state(self, kind: JobKind, job_id: str, state: str) -> JobInfo:
        return self._job("PATCH", f"jobs/{kind}/{job_id}", job_id=job_id, json_body={"state": state})

    def _list(self, path: str, job_type: str | None, pk_chunking: bool | None,
              concurrency_mode: str | None) -> Iterator[JobInfo]:
        params: dict[str, str] = {}
        if job_type:
            params["jobType"] = job_type
        if pk_chunking is not None:
            params["isPkChunkingEnabled"] = "true" if pk_chunking else "false"
        if concurrency_mode:
            params["concurrencyMode"] = concurrency_mode
        for payload in self._follow(path, params or None):
            for record in payload.get("records") or []:
                yield JobInfo.from_json(record)

    def _follow(self, path: str, params: Mapping[str, str] | None = None, *,
                job_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every JSON page of a paged answer (job lists, resultPages), following ``nextRecordsUrl``
        until ``done``. The next URL carries its own query string (the locator) and may even point
        at the other job list (a documented quirk), so it is followed exactly as given, without
        `params`. The docs spell it ``nextRecordUrl`` once, so that spelling is read too."""
        next_path: str | None = path
        while next_path:
            with self.api.request("GET", next_path, job_id=job_id, params=params) as response:
                payload = response.json()
            yield payload
            next_path = None if payload.get("done", True) else (payload.get("nextRecordsUrl")
                                                                 or payload.get("nextRecordUrl"))
            params = None

    def _results(self, job_id: str, kind: str, dest: Path | None) -> Path | bytes:
        with self._csv_get(f"jobs/ingest/{job_id}/{kind}", job_id=job_id, stream=dest is not None) as response:
            if dest is None:
                return response.content
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(dest.name + ".part")
            with open(partial, "wb") as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
        partial.replace(dest)
        return dest

    def _query_page(self, job_id: str, locator: str | None, max_records: int | None, *, stream: bool):
        params: dict[str, str] = {}
        if locator:
            params["locator"] = locator
        if max_records:
            params["maxRecords"] = str(max_records)
        return self._csv_get(f"jobs/query/{job_id}/results", job_id=job_id, params=params or None, stream=stream)

    def _csv_get(self, path: str, *, job_id: str | None, params: Mapping[str, str] | None = None,
                 stream: bool = False) -> requests.Response:
        """GET a CSV resource (query result pages, ingest result files): text/csv is the only type
        they serve, and asking for JSON would be refused."""
        return self.api.request("GET", path, job_id=job_id, params=params, headers={"Accept": "text/csv"},
                                stream=stream)

    @staticmethod
    def _read_page(response: requests.Response) -> ResultPage:
        """A whole results answer as a page: where it came from (locator or result URL) makes no
        difference, the body and the two Sforce headers are read the same way."""
        count = response.headers.get("Sforce-NumberOfRecords")
        number = _to_int(count) if count is not None else _count_csv_records(response.content)
        return ResultPage(response.content, _locator(response.headers.get("Sforce-Locator")), number)


def _locator(value: str | None) -> str | None:
    """The next-page locator; the server says ``null`` (the string) on the last page."""
    return None if not value or value == "null" else value


def _skip_first_line(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Drop the header row of a later result page (header names cannot contain line breaks)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        newline = pending.find(b"\n")
        if newline >= 0:
            yield pending[newline + 1:]
            break
    else:
        return
    yield from chunks

