"""Bulk API 1.0 over HTTP: ``/services/async/XX.X/job...`` (reference §6).

Authentication is the ``X-SFDC-Session`` header (an access token; ``Authorization: Bearer`` works
too); a missing, unknown or expired one answers 400 ``InvalidSessionId``, which is how jsforce and
Data Loader recognise an expired session. Job creation answers in the request's format (heroku's
salesforce-bulk parses it as XML whatever the job's type); every other control response in the
job's (JSON for JSON jobs, XML for XML and CSV jobs); results per §6.3. Creating a job or adding a
batch answers 201. Bodies may be chunked and gzip-compressed (inflated by the edge middleware).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .bulk1_batches import TERMINAL, Batch, JobCounts
from .bulk1_errors import Bulk1Error, body_response, job_format, media_type, typed_response
from .bulk1_ingest import request_file, results_file
from .bulk1_jobs import change_state, create_job, job_error, job_info, load_job
from .bulk1_query import result_file
from .bulk1_results import file_chunks, ingest_results_json, ingest_results_xml
from .bulk1_xml import batch_list_document, document, parse_job_request, result_list_document
from .ids import normalize_id
from .jobs import Job
from .org import LocalOrg
from .web_common import MAX_VERSION, MIN_VERSION, bearer_token, org_of

router = APIRouter()
BASE = "/services/async/{version}"
CONTROL_BODY_LIMIT = 1_000_000
_VERSION = re.compile(r"\d{2,3}\.\d")
BATCH_TYPES = {"CSV": ("text/csv",), "XML": ("application/xml", "text/xml"), "JSON": ("application/json",),
               "ZIP_CSV": ("zip/csv", "application/zip"), "ZIP_XML": ("zip/xml", "application/zip"),
               "ZIP_JSON": ("zip/json", "application/zip")}
KNOWN_BATCH_TYPES = frozenset(t for types in BATCH_TYPES.values() for t in types)
RESPONSE_TYPES = {"CSV": "text/csv", "XML": "application/xml", "JSON": "application/json", "ZIP_CSV": "zip/csv",
                  "ZIP_XML": "zip/xml", "ZIP_JSON": "zip/json"}


def _check_version(version: str) -> None:
    if not _VERSION.fullmatch(version):
        raise Bulk1Error("InvalidUrl", f"Invalid API version in the URL: {version}", 404)
    if float(version) < MIN_VERSION:
        raise Bulk1Error("Gone", f"API version {version} has been retired and is no longer supported. Use version "
                                 f"{MIN_VERSION} or later.", 410)
    if float(version) > MAX_VERSION:
        raise Bulk1Error("InvalidVersion", f"Invalid API version {version}: the local org serves {MIN_VERSION} to "
                                           f"{MAX_VERSION}")


def _session(request: Request, version: str) -> Session:
    _check_version(version)
    token = request.headers.get("x-sfdc-session") or bearer_token(request)
    session = org_of(request).sessions.authenticate(token)
    if session is None:
        raise Bulk1Error("InvalidSessionId", "Invalid session id")
    return session


async def _read_body(request: Request, limit: int) -> tuple[bytes, int]:
    """The body (chunked or not) and its size; past `limit` the rest is read and dropped, so the client
    gets the error instead of a broken connection."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return (b"".join(chunks) if size <= limit else b""), size


def _document_format(request: Request, body: bytes) -> str:
    """jobInfo requests are XML or JSON; without a Content-Type the body tells which."""
    kind = media_type(request)
    if "json" in kind:
        return "json"
    if "xml" in kind:
        return "xml"
    if not kind:
        return "json" if body.lstrip()[:1] in (b"{", b"[") else "xml"
    raise Bulk1Error("UnsupportedContentType", f"Unsupported content type for a jobInfo: {kind}")


def _job_response(org: LocalOrg, job: Job, fmt: str, status: int = 200) -> Response:
    return body_response(document("jobInfo", job_info(job, org.bulk1.batches.counts(job.id), fmt), fmt), fmt, status)


# -- jobs ----------------------------------------------------------------------------------------------------
@router.post(BASE + "/job")
async def create(request: Request, version: str) -> Response:
    body, size = await _read_body(request, CONTROL_BODY_LIMIT)
    session = _session(request, version)
    if size > CONTROL_BODY_LIMIT:
        raise Bulk1Error("ClientInputError", f"Failed to read request. Exceeded max size limit of {CONTROL_BODY_LIMIT}")
    fmt = _document_format(request, body)
    fields = parse_job_request(body, fmt)
    org = org_of(request)
    job = await run_in_threadpool(create_job, org.jobs, org.schema, fields, version, session.user_id,
                                  request.headers)
    return body_response(document("jobInfo", job_info(job, JobCounts(), fmt), fmt), fmt, 201)


@router.get(BASE + "/job/{job_id}")
def get_job(request: Request, version: str, job_id: str) -> Response:
    _session(request, version)
    org = org_of(request)
    job = load_job(org.jobs, job_id)
    return _job_response(org, job, job_format(job.content_type))


@router.post(BASE + "/job/{job_id}")
async def update_job(request: Request, version: str, job_id: str) -> Response:
    """Close or abort: a jobInfo holding only ``state`` (Closed or Aborted)."""
    body, size = await _read_body(request, CONTROL_BODY_LIMIT)
    _session(request, version)
    org = org_of(request)
    job = await run_in_threadpool(load_job, org.jobs, job_id)
    fmt = job_format(job.content_type)
    if size > CONTROL_BODY_LIMIT:
        raise job_error(job, "ClientInputError", f"Failed to read request. Exceeded max size limit of "
                                                 f"{CONTROL_BODY_LIMIT}")
    try:
        fields = parse_job_request(body, _document_format(request, body))
    except Bulk1Error as exc:
        raise job_error(job, exc.code, exc.message) from None
    job = await run_in_threadpool(change_state, org.jobs, org.bulk1.batches, job, fields)
    return _job_response(org, job, fmt)


@router.post(BASE + "/job/{job_id}/spec")
async def transformation_spec(request: Request, version: str, job_id: str) -> Response:
    await _read_body(request, CONTROL_BODY_LIMIT)
    _session(request, version)
    job = load_job(org_of(request).jobs, job_id)
    raise job_error(job, "FeatureNotEnabled", "Transformation specs (POST .../spec) are not supported by the local org")


# -- batches -------------------------------------------------------------------------------------------------
def _payload_type(request: Request, job: Job) -> str:
    if job.api == "query":
        return "SOQL"  # query batches: the SOQL is read whatever the Content-Type says
    kind = media_type(request)
    if kind not in KNOWN_BATCH_TYPES:
        raise job_error(job, "UnsupportedContentType", f"Unsupported content type: {kind or '(none)'}")
    if kind not in BATCH_TYPES[job.content_type]:
        raise job_error(job, "InvalidBatch", f"The batch's Content-Type {kind} does not match the job's contentType "
                                             f"{job.content_type}")
    return job.content_type


@router.post(BASE + "/job/{job_id}/batch")
async def add_batch(request: Request, version: str, job_id: str) -> Response:
    org = org_of(request)
    limit = org.settings.bulk1_max_batch_bytes
    body, size = await _read_body(request, limit)
    _session(request, version)
    job = await run_in_threadpool(load_job, org.jobs, job_id)
    fmt = job_format(job.content_type)
    if job.state != "Open":
        raise job_error(job, "InvalidJobState", f"Job {job.id} is {job.state}: batches can only be added to an Open "
                                                f"job")
    payload_type = _payload_type(request, job)
    if org.faults.refuse_upload():
        raise job_error(job, "Unknown", "Server is temporarily unavailable. Please try again later.", 503)
    if size > limit:
        raise job_error(job, "ClientInputError", f"Failed to read request. Exceeded max size limit of {limit}")
    if not body.strip():
        raise job_error(job, "InvalidBatch", "The batch is empty: a batch needs a header row and records, or a query")
    soql = None
    if payload_type == "SOQL":
        try:
            soql = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise job_error(job, "ClientInputError", "The query is not valid UTF-8") from None
    batch = await run_in_threadpool(org.bulk1.add_batch, job, body, payload_type, soql)
    return body_response(document("batchInfo", batch.info(fmt), fmt), fmt, 201)


def _batch_of(request: Request, version: str, job_id: str, batch_id: str) -> tuple[LocalOrg, Job, Batch]:
    """What every batch route starts with: the session checked, then the job and its batch found."""
    _session(request, version)
    org = org_of(request)
    job = load_job(org.jobs, job_id)
    return org, job, _load_batch(org, job, batch_id)


def _load_batch(org: LocalOrg, job: Job, batch_id: str) -> Batch:
    full_id = normalize_id(batch_id)
    batch = org.bulk1.batches.get(full_id) if full_id and full_id.startswith("751") else None
    if batch is None or batch.job_id != job.id:
        raise job_error(job, "InvalidBatch", f"Invalid batch id: {batch_id}")
    return batch


@router.get(BASE + "/job/{job_id}/batch")
def list_batches(request: Request, version: str, job_id: str) -> Response:
    _session(request, version)
    org = org_of(request)
    job = load_job(org.jobs, job_id)
    fmt = job_format(job.content_type)
    return body_response(batch_list_document([b.info(fmt) for b in org.bulk1.batches.of_job(job.id)], fmt), fmt)


@router.get(BASE + "/job/{job_id}/batch/{batch_id}")
def get_batch(request: Request, version: str, job_id: str, batch_id: str) -> Response:
    org, job, batch = _batch_of(request, version, job_id, batch_id)
    if batch.state not in TERMINAL:
        batch = org.bulk1.batches.wait_for_change(batch.id, org.settings.bulk1_poll_wait_ms / 1000) or batch
    fmt = job_format(job.content_type)
    return body_response(document("batchInfo", batch.info(fmt), fmt), fmt)


@router.get(BASE + "/job/{job_id}/batch/{batch_id}/request")
def get_request(request: Request, version: str, job_id: str, batch_id: str) -> Response:
    org, job, batch = _batch_of(request, version, job_id, batch_id)
    if batch.request_text is not None:
        return typed_response(batch.request_text.encode("utf-8"), RESPONSE_TYPES[job.content_type])
    path = org.files.path(job.id, request_file(batch.id, batch.payload_type))
    return StreamingResponse(file_chunks(path), headers={"Content-Type": RESPONSE_TYPES[batch.payload_type]})


def _finished(job: Job, batch: Batch) -> None:
    if batch.state not in TERMINAL:
        raise job_error(job, "InvalidBatch", f"Batch {batch.id} not completed: it is {batch.state}")
    if batch.state != "Completed":
        raise job_error(job, "InvalidBatch", "Records not processed")


@router.get(BASE + "/job/{job_id}/batch/{batch_id}/result")
def get_result(request: Request, version: str, job_id: str, batch_id: str) -> Response:
    org, job, batch = _batch_of(request, version, job_id, batch_id)
    _finished(job, batch)
    fmt = job_format(job.content_type)
    if job.api == "query":
        return body_response(result_list_document(batch.results, fmt), fmt)
    data = org.files.path(job.id, results_file(batch.id)).read_bytes()
    if job.content_type in ("CSV", "ZIP_CSV"):
        return typed_response(data, "text/csv")
    if fmt == "json":
        return body_response(ingest_results_json(data), fmt)
    return body_response(ingest_results_xml(data), fmt)


@router.get(BASE + "/job/{job_id}/batch/{batch_id}/result/{result_id}")
def get_result_set(request: Request, version: str, job_id: str, batch_id: str, result_id: str) -> Response:
    org, job, batch = _batch_of(request, version, job_id, batch_id)
    _finished(job, batch)
    full_id = normalize_id(result_id)
    if job.api != "query" or full_id not in batch.results:
        raise job_error(job, "InvalidBatch", f"Invalid result id: {result_id}")
    path = org.files.path(job.id, result_file(batch.id, full_id, job.content_type))
    return StreamingResponse(file_chunks(path), headers={"Content-Type": RESPONSE_TYPES[job.content_type]})
