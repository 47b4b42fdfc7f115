"""Bulk API 2.0 ingest over HTTP: ``/services/data/vXX.X/jobs/ingest...`` (reference §1)."""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .csvformat import BOM, DELIMITERS, LINE_ENDINGS
from .dml_plan import JobRequestError, check_job_request
from .ingest_processor import stamp
from .ingest_results import RESULT_FILES, UPLOAD, result_stream
from .jobinfo import ingest_info
from .jobs import Job
from .multipart import form_parts
from .org import LocalOrg
from .web_common import (
    ApiError,
    api_version,
    choice,
    json_body,
    not_found,
    org_of,
    require_session,
    sf_json,
    text_field,
)
from .web_jobs import add_job_routes, load_job, new_job_id

INGEST_MIN_VERSION = 41.0
BASE = "/services/data/v{version}/jobs/ingest"
CSV_TYPE = "text/csv; charset=UTF-8"
MULTIPLE_UPLOADS = ("Found multiple contents for job: {id}, please 'Close' / 'Abort' / 'Delete' the current Job "
                    "then create a new Job and make sure you only do 'PUT' once on a given Job.")

router = APIRouter()


def _new_ingest_job(org: LocalOrg, body: dict[str, Any], version: str, user_id: str) -> Job:
    object_name, operation = text_field(body, "object"), text_field(body, "operation")
    if not operation:
        raise ApiError(400, "INVALIDJOB", "The job needs an operation: insert, update, upsert, delete or hardDelete")
    if not object_name:
        raise ApiError(400, "INVALIDJOB", "The job needs an object")
    content_type = choice(body, "contentType", ("CSV",), "CSV")
    delimiter = choice(body, "columnDelimiter", tuple(DELIMITERS), "COMMA")
    line_ending = choice(body, "lineEnding", tuple(LINE_ENDINGS), "LF")
    rule = text_field(body, "assignmentRuleId")
    try:
        obj, key = check_job_request(org.schema, object_name, operation, text_field(body, "externalIdFieldName"))
    except JobRequestError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    if org.pacer.refuse_new_job():  # pacing's queue_limit: the org asks clients to slow down
        raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded: too many Bulk API "
                                                      "jobs are waiting to be processed; try again later")
    now = stamp()
    job = Job(id=new_job_id(org), api="ingest", job_type="V2Ingest", operation=operation, object=obj.name,
              state="Open", api_version=version, created_by=user_id, created_date=now, system_modstamp=now,
              external_id_field=key.name if key else None, assignment_rule_id=rule, content_type=content_type,
              column_delimiter=delimiter, line_ending=line_ending)
    org.jobs.create(job)
    return job


def _multipart(org: LocalOrg, content_type: str, raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The ``job`` JSON part and the ``content`` CSV part of a multipart create (reference §1.3)."""
    parts = {name: part.content for name, part in form_parts(content_type, raw).items()}
    if "job" not in parts or "content" not in parts:
        raise ApiError(400, "INVALIDJOB", "A multipart job creation needs a 'job' part (JSON) and a 'content' "
                                          "part (CSV)")
    try:
        body = json.loads(parts["job"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"The 'job' part is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The 'job' part must be a JSON object")
    content = parts["content"]
    if len(content.decode("utf-8", "replace")) > org.settings.multipart_max_chars:
        raise ApiError(400, "API_ERROR", f"A multipart job creation takes at most {org.settings.multipart_max_chars:,} "
                                         f"characters of CSV; upload larger data with PUT .../batches")
    return body, content


@router.post(BASE)
async def create_job(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    api_version(version, INGEST_MIN_VERSION)
    org = org_of(request)
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/"):
        body, content = _multipart(org, content_type, await request.body())
    else:
        body, content = await json_body(request), None

    def create() -> Job:
        job = _new_ingest_job(org, body, version, session.user_id)
        if content is None:
            return job
        org.files.path(job.id, UPLOAD).write_bytes(content)
        org.jobs.update(job.id, upload_count=1, upload_bytes=len(content))
        org.jobs.transition(job.id, ["Open"], "UploadComplete", system_modstamp=stamp())
        job = load_job(org, job.id, "ingest")
        org.submit(job)
        return job

    job = await run_in_threadpool(create)
    return sf_json(ingest_info(job, "create"))


add_job_routes(router, BASE, "ingest", INGEST_MIN_VERSION, ingest_info)


@router.put(BASE + "/{job_id}/batches")
async def upload(request: Request, version: str, job_id: str, session: Session = Depends(require_session)) -> Response:
    api_version(version, INGEST_MIN_VERSION)
    org = org_of(request)
    job = await run_in_threadpool(load_job, org, job_id, "ingest")
    if org.faults.refuse_upload():
        await _drain(request)
        raise ApiError(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please try again later.")
    await run_in_threadpool(_reserve_upload, org, job)
    path = org.files.path(job.id, UPLOAD)
    partial = path.with_suffix(".part")
    size, limit = 0, org.settings.max_upload_bytes
    try:
        with open(partial, "wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limit:
                    handle.write(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)
        await run_in_threadpool(org.jobs.update, job.id, upload_count=0)
        raise
    if size > limit:
        partial.unlink(missing_ok=True)
        await run_in_threadpool(org.jobs.update, job.id, upload_count=0)
        raise ApiError(413, "EXCEEDED_MAX_SIZE_REQUEST", f"The job data is {size:,} bytes; a Bulk API 2.0 job "
                                                         f"takes at most {limit:,} bytes. Split the data into "
                                                         f"several jobs.")
    os.replace(partial, path)
    await run_in_threadpool(org.jobs.update, job.id, upload_bytes=size)
    return Response(status_code=201)


def _reserve_upload(org: LocalOrg, job: Job) -> None:
    """Claim the job's single upload (compare-and-set, so two concurrent PUTs cannot both win)."""
    with org.store.transaction() as conn:
        claimed = conn.execute("UPDATE _jobs SET upload_count = 1 WHERE id = ? AND state = 'Open' AND "
                               "upload_count = 0", (job.id,)).rowcount == 1
    if claimed:
        return
    current = load_job(org, job.id, "ingest")
    if current.state != "Open":
        raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is {current.state}: data can only be uploaded while "
                                               f"the job is Open")
    raise ApiError(400, "INVALIDJOBSTATE", MULTIPLE_UPLOADS.format(id=job.id))


async def _drain(request: Request) -> None:
    async for _ in request.stream():
        pass


@router.get(BASE + "/{job_id}/{kind}")
def results(request: Request, version: str, job_id: str, kind: str,
            session: Session = Depends(require_session)) -> Response:
    api_version(version, INGEST_MIN_VERSION)
    org = org_of(request)
    kind = kind.lower()
    if kind not in RESULT_FILES:
        raise not_found()
    job = load_job(org, job_id, "ingest")
    upload = org.files.root / job.id / UPLOAD
    if kind == "unprocessedrecords" and job.state == "Aborted" and job.header_line is None and upload.exists():
        data = upload.read_bytes().removeprefix(BOM)  # aborted before processing: nothing was attempted
        return Response(data, media_type=CSV_TYPE)
    return StreamingResponse(result_stream(org.files, job, kind), media_type=CSV_TYPE)
