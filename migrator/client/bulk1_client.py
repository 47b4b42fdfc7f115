"""Bulk API 1.0's raw endpoints: `Bulk1Client`, one method per resource (§6.1).

Calls go to ``/services/async/XX.X/...`` with the token in ``X-SFDC-Session``; answers are parsed
by their Content-Type (XML for XML/CSV jobs, JSON for JSON jobs). Errors (HTTP 400 ``<error>`` or
``{exceptionCode, exceptionMessage}``) are mapped by `ApiSession`, which also re-authenticates on
``InvalidSessionId``. Both the executor-facing `Bulk1Ingest` and the query helpers build on it.
"""

from __future__ import annotations

import gzip as gzip_module
from pathlib import Path

import requests

from migrator.client.bulk1_results import BatchResults, parse_batch_results
from migrator.client.bulk1_xml import (
    BatchInfo,
    Bulk1Job,
    create_job_document,
    parse_batch,
    parse_batch_list,
    parse_job,
    parse_result_list,
    state_document,
)
from migrator.client.http import ApiSession
from migrator.errors import InvalidRequestError

INGEST_OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
QUERY_OPERATIONS = frozenset({"query", "queryAll"})
BATCH_CONTENT_TYPES = {"CSV": "text/csv; charset=UTF-8", "XML": "application/xml; charset=UTF-8",
                       "JSON": "application/json; charset=UTF-8", "ZIP_CSV": "zip/csv", "ZIP_XML": "zip/xml",
                       "ZIP_JSON": "zip/json"}
XML_BODY = "application/xml; charset=UTF-8"
JSON_BODY = "application/json; charset=UTF-8"
CHUNK_BYTES = 1 << 20


class Bulk1Client:
    """Raw Bulk API 1.0 calls, one method per resource (§6.1)."""

    def __init__(self, api: ApiSession):
        self.api = api

    # --- jobs ---------------------------------------------------------------------------------

    def create_job(self, object: str, operation: str, *, external_id_field: str | None = None,
                   concurrency_mode: str | None = None, content_type: str = "CSV",
                   assignment_rule_id: str | None = None, pk_chunking: str | None = None,
                   line_ending: str | None = None) -> Bulk1Job:
        """Open a job. `pk_chunking` is a ``Sforce-Enable-PKChunking`` value (see `pk_chunking_header`);
        `line_ending` (``LF``/``CRLF``) sets ``Sforce-Line-Ending`` (line breaks inside text areas)."""
        if operation not in INGEST_OPERATIONS | QUERY_OPERATIONS:
            raise InvalidRequestError(f"operation must be one of "
                                      f"{', '.join(sorted(INGEST_OPERATIONS | QUERY_OPERATIONS))}, not {operation!r}")
        if operation == "upsert" and not external_id_field:
            raise InvalidRequestError(f"upsert of {object} needs an external id field")
        if pk_chunking and operation not in QUERY_OPERATIONS:
            raise InvalidRequestError("PK chunking applies to query jobs only")
        body = create_job_document(object, operation, content_type=content_type, concurrency_mode=concurrency_mode,
                                   external_id_field=external_id_field if operation == "upsert" else None,
                                   assignment_rule_id=assignment_rule_id)
        headers = {"Content-Type": JSON_BODY if content_type in ("JSON", "ZIP_JSON") else XML_BODY}
        if pk_chunking:
            headers["Sforce-Enable-PKChunking"] = pk_chunking
        if line_ending:
            headers["Sforce-Line-Ending"] = line_ending
        with self._call("POST", "job", headers=headers, data=body) as response:
            return parse_job(response.content, _content_type(response))

    def get_job(self, job_id: str) -> Bulk1Job:
        with self._call("GET", f"job/{job_id}", job_id=job_id) as response:
            return parse_job(response.content, _content_type(response))

    def close_job(self, job_id: str, *, as_json: bool = False) -> Bulk1Job:
        """No more batches. Batches already queued run on either way (1.0 processes them on arrival)."""
        return self._set_state(job_id, "Closed", as_json)

    def abort_job(self, job_id: str, *, as_json: bool = False) -> Bulk1Job:
        """Queued batches become NotProcessed; a batch already in progress still finishes."""
        return self._set_state(job_id, "Aborted", as_json)

    # --- batches ------------------------------------------------------------------------------

    def add_batch(self, job_id: str, data: bytes | Path, content_type: str = "CSV", *,
                  gzip: bool = False) -> BatchInfo:
        """Post one batch: CSV/XML/JSON records, or a zip (ZIP_CSV/ZIP_XML/ZIP_JSON, see `zip_batch`).
        A Path is streamed from disk; `gzip` compresses a bytes body (``Content-Encoding: gzip``)."""
        if content_type not in BATCH_CONTENT_TYPES:
            raise InvalidRequestError(f"batch content type must be one of {', '.join(BATCH_CONTENT_TYPES)}, "
                                      f"not {content_type!r}")
        headers = {"Content-Type": BATCH_CONTENT_TYPES[content_type]}
        if gzip:
            if isinstance(data, Path):
                data = data.read_bytes()
            data = gzip_module.compress(data, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if isinstance(data, Path):
            with data.open("rb") as source, self._call("POST", f"job/{job_id}/batch", job_id=job_id,
                                                       headers=headers, data=source) as response:
                return parse_batch(response.content, _content_type(response))
        with self._call("POST", f"job/{job_id}/batch", job_id=job_id, headers=headers, data=data) as response:
            return parse_batch(response.content, _content_type(response))

    def add_query_batch(self, job_id: str, soql: str, content_type: str = "CSV") -> BatchInfo:
        """The SOQL as the batch body, under the job's content type (as every client sends it)."""
        return self.add_batch(job_id, soql.encode("utf-8"), content_type)

    def get_batch(self, job_id: str, batch_id: str) -> BatchInfo:
        with self._call("GET", f"job/{job_id}/batch/{batch_id}", job_id=job_id) as response:
            return parse_batch(response.content, _content_type(response))

    def list_batches(self, job_id: str) -> list[BatchInfo]:
        with self._call("GET", f"job/{job_id}/batch", job_id=job_id) as response:
            return parse_batch_list(response.content, _content_type(response))

    def batch_request(self, job_id: str, batch_id: str) -> bytes:
        """The batch as it was posted (query batches: the SOQL, PK chunks with their Id range)."""
        with self._call("GET", f"job/{job_id}/batch/{batch_id}/request", job_id=job_id) as response:
            return response.content

    def batch_result_raw(self, job_id: str, batch_id: str) -> tuple[bytes, str]:
        """(body, Content-Type) of a batch result: per-row results, or a query's result-id list."""
        with self._call("GET", f"job/{job_id}/batch/{batch_id}/result", job_id=job_id) as response:
            return response.content, _content_type(response)

    def batch_result(self, job_id: str, batch_id: str) -> BatchResults:
        """Per-row results of an ingest batch, in request order, whatever the job's format."""
        return parse_batch_results(*self.batch_result_raw(job_id, batch_id))

    def query_result_ids(self, job_id: str, batch_id: str) -> list[str]:
        return parse_result_list(*self.batch_result_raw(job_id, batch_id))

    def open_query_result(self, job_id: str, batch_id: str, result_id: str) -> requests.Response:
        """A streamed result set (close it, or use it as a context manager)."""
        return self._call("GET", f"job/{job_id}/batch/{batch_id}/result/{result_id}", job_id=job_id, stream=True)

    def download_query_result(self, job_id: str, batch_id: str, result_id: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open_query_result(job_id, batch_id, result_id) as response, dest.open("wb") as out:
            for chunk in response.iter_content(CHUNK_BYTES):
                out.write(chunk)
        return dest

    # --- internals ----------------------------------------------------------------------------

    def _set_state(self, job_id: str, state: str, as_json: bool) -> Bulk1Job:
        headers = {"Content-Type": JSON_BODY if as_json else XML_BODY}
        with self._call("POST", f"job/{job_id}", job_id=job_id, headers=headers,
                        data=state_document(state, as_json=as_json)) as response:
            return parse_job(response.content, _content_type(response))

    def _call(self, method: str, path: str, *, job_id: str | None = None, headers: dict[str, str] | None = None,
              data: object = None, stream: bool = False) -> requests.Response:
        # Accept is not how Bulk 1.0 picks a format (the job's contentType is); answers are parsed by
        # their own Content-Type, so accept anything rather than ApiSession's JSON default.
        return self.api.request(method, f"{self.api.async_path}/{path}", job_id=job_id,
                                headers={"Accept": "*/*", **(headers or {})}, data=data, stream=stream,
                                session_header=True)


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "")
