"""Bulk API 2.0 query over HTTP: ``/services/data/vXX.X/jobs/query...`` (reference §2).

The SOQL is compiled when the job is created, so an unsupported or wrong query is a synchronous 400
(never a job that fails later). Results pages carry ``Sforce-NumberOfRecords`` and ``Sforce-Locator``
(``null`` on the last page); no other response carries ``Sforce-Locator``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .csvformat import DELIMITERS, LINE_ENDINGS
from .ingest_processor import stamp
from .jobinfo import query_info
from .jobs import Job
from .org import LocalOrg
from .query_results import LocatorError, decode_locator, encode_locator, page_stream, result_page
from .soql import SoqlError, compile_query
from .web_common import (
    ApiError,
    api_version,
    choice,
    json_body,
    not_found,
    org_of,
    positive_int,
    require_session,
    sf_json,
    text_field,
)
from .web_jobs import add_job_routes, load_job, new_job_id

QUERY_MIN_VERSION = 47.0
RESULT_PAGES_MIN_VERSION = 58.0
BASE = "/services/data/v{version}/jobs/query"
RESULT_PAGES_PER_RESPONSE = 5

router = APIRouter()


def _new_query_job(org: LocalOrg, body: dict[str, Any], version: str, user_id: str) -> Job:
    operation = text_field(body, "operation")
    if not operation:
        raise ApiError(400, "INVALIDJOB", "The job needs an operation: query or queryAll")
    operation = choice(body, "operation", ("query", "queryAll"), "query")
    soql = text_field(body, "query")
    if not soql or not soql.strip():
        raise ApiError(400, "INVALIDJOB", "The job needs a query")
    content_type = choice(body, "contentType", ("CSV",), "CSV")
    delimiter = choice(body, "columnDelimiter", tuple(DELIMITERS), "COMMA")
    line_ending = choice(body, "lineEnding", tuple(LINE_ENDINGS), "LF")
    try:
        query = compile_query(soql, org.schema, include_deleted=operation == "queryAll")
    except SoqlError as exc:
        raise ApiError(400, exc.error_code, exc.message) from None
    if query.is_count or query.has_aggregate:
        raise ApiError(400, "API_ERROR", "Aggregate queries (COUNT(), SUM(), GROUP BY, ...) are not supported by "
                                         "Bulk API 2.0 query; use the REST query resource")
    if query.children:
        raise ApiError(400, "API_ERROR", "Aggregate Relationships not supported in Bulk V2 Query with CSV content "
                                         "type.")
    if query.uses_typeof:
        raise ApiError(400, "API_ERROR", "TYPEOF is not supported by Bulk API 2.0 query; use the REST query resource")
    if query.uses_offset:
        raise ApiError(400, "API_ERROR", "OFFSET is not supported by Bulk API 2.0 query")
    now = stamp()
    job = Job(id=new_job_id(org), api="query", job_type="V2Query", operation=operation, object=query.object_name,
              state="UploadComplete", api_version=version, created_by=user_id, created_date=now,
              system_modstamp=now, content_type=content_type, column_delimiter=delimiter, line_ending=line_ending,
              query=soql, result_columns=json.dumps(list(query.columns)))
    org.jobs.create(job)
    org.submit(job)
    return job


@router.post(BASE)
async def create_job(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    api_version(version, QUERY_MIN_VERSION)
    body = await json_body(request)
    job = await run_in_threadpool(_new_query_job, org_of(request), body, version, session.user_id)
    return sf_json(query_info(job, "create"))


add_job_routes(router, BASE, "query", QUERY_MIN_VERSION, query_info)


def _completed_job(request: Request, version: str, job_id: str) -> Job:
    job = load_job(org_of(request), job_id, "query")
    if float(job.api_version) != float(version):
        raise ApiError(409, "API_ERROR", f"Results of job {job.id} must be requested with the API version that "
                                         f"created it (v{job.api_version})")
    if job.state != "JobComplete":
        raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}: results are available once the job "
                                               f"is JobComplete")
    return job


def _start_row(request: Request) -> int:
    locator = request.query_params.get("locator") or ""
    try:
        return decode_locator(locator) if locator else 0
    except LocatorError as exc:
        raise ApiError(400, "API_ERROR", str(exc)) from None


@router.get(BASE + "/{job_id}/{kind}")
def results(request: Request, version: str, job_id: str, kind: str,
            session: Session = Depends(require_session)) -> Response:
    api_version(version, QUERY_MIN_VERSION)
    kind = kind.lower()
    if kind == "resultpages" and float(version) >= RESULT_PAGES_MIN_VERSION:
        return _result_pages(request, version, job_id)
    if kind != "results":
        raise not_found()
    org = org_of(request)
    job = _completed_job(request, version, job_id)
    page_rows = positive_int(request.query_params.get("maxRecords"), "maxRecords") or org.settings.query_page_rows
    try:
        page = result_page(org.files, job, json.loads(job.result_columns or "[]"), _start_row(request), page_rows)
    except LocatorError as exc:
        raise ApiError(400, "API_ERROR", str(exc)) from None
    return StreamingResponse(page_stream(org.files, job, page), media_type="text/csv; charset=UTF-8",
                             headers={"Sforce-Locator": page.next_locator,
                                      "Sforce-NumberOfRecords": str(page.row_count)})


def _result_pages(request: Request, version: str, job_id: str) -> Response:
    """Up to five result page URLs per response, for parallel download (v58+)."""
    org = org_of(request)
    job = _completed_job(request, version, job_id)
    page_rows = positive_int(request.query_params.get("maxRecords"), "maxRecords") or org.settings.query_page_rows
    start, total = _start_row(request), job.records_processed
    if start > total:
        raise ApiError(400, "API_ERROR", f"Invalid locator: {request.query_params.get('locator')}")
    starts = list(range(start, total, page_rows))[:RESULT_PAGES_PER_RESPONSE] or [start]
    base = f"/services/data/v{version}/jobs/query/{job.id}"
    pages = [{"resultUrl": f"{base}/results?locator={encode_locator(s)}&maxRecords={page_rows}"} for s in starts]
    after = starts[-1] + page_rows
    done = after >= total
    next_url = None if done else f"{base}/resultpages?locator={encode_locator(after)}&maxRecords={page_rows}"
    return sf_json({"resultPages": pages, "nextRecordsUrl": next_url, "done": done})
