"""What Bulk 2.0 ingest and query jobs share over HTTP: finding a job, listing, aborting, deleting,
and the four routes built from those."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .ids import normalize_id
from .ingest_processor import stamp
from .jobinfo import job_info
from .jobs import Job
from .org import LocalOrg
from .query_results import LocatorError, decode_locator, encode_locator
from .web_common import ApiError, api_version, json_body, not_found, org_of, require_session, sf_json, text_field

ABORTABLE = ("Open", "UploadComplete", "InProgress")


def new_job_id(org: LocalOrg) -> str:
    return org.jobs.new_id()


def load_job(org: LocalOrg, job_id: str, api: str) -> Job:
    """The Bulk 2.0 job, found by its 15- or 18-character Id, or 404 NOT_FOUND (Bulk 1.0 jobs are listed
    with them but served under /services/async only)."""
    full_id = normalize_id(job_id)
    job = org.jobs.get(full_id, api) if full_id else None
    if job is None or job.job_type == "Classic":
        raise not_found()
    return job


def list_jobs(request: Request, version: str, api: str) -> Response:
    org = org_of(request)
    params = request.query_params
    locator = params.get("queryLocator")
    try:
        offset = decode_locator(locator) if locator else 0
    except LocatorError as exc:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", str(exc)) from None
    pk_chunked = params.get("isPkChunkingEnabled", "").lower() == "true"  # only Bulk 1.0 jobs are PK-chunked
    jobs, more = org.jobs.list(api, params.get("jobType") or None, offset, org.settings.list_page_size, pk_chunked)
    next_url = None
    if more:
        next_url = f"/services/data/v{version}/jobs/{api}?queryLocator={encode_locator(offset + len(jobs))}"
        for name in ("jobType", "concurrencyMode", "isPkChunkingEnabled"):
            if params.get(name):
                next_url += f"&{name}={params[name]}"
    return sf_json({"done": not more, "records": [job_info(j, "list") for j in jobs], "nextRecordsUrl": next_url})


def set_state(org: LocalOrg, job_id: str, api: str, state: str | None) -> Job:
    """PATCH {"state": ...}: UploadComplete (ingest, from Open) or Aborted (from a live state)."""
    job = load_job(org, job_id, api)
    if state == "UploadComplete" and api == "ingest":
        if not org.jobs.transition(job.id, ["Open"], "UploadComplete", system_modstamp=stamp()):
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}: only an Open job can be "
                                                   f"set to UploadComplete")
        job = load_job(org, job.id, api)
        org.submit(job)
        return job
    if state == "Aborted":
        if not org.jobs.transition(job.id, ABORTABLE, "Aborted", system_modstamp=stamp()):
            raise ApiError(400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed")
        return load_job(org, job.id, api)
    allowed = "UploadComplete or Aborted" if api == "ingest" else "Aborted"
    raise ApiError(400, "INVALIDJOBSTATE", f"Invalid state {state!r} for job {job.id}: a client can set the "
                                           f"state to {allowed}")


def delete_job(org: LocalOrg, job_id: str, api: str) -> None:
    job = load_job(org, job_id, api)
    deletable = ["JobComplete", "Aborted", "Failed"] + (["UploadComplete"] if api == "ingest" else [])
    with org.store.transaction() as conn:
        cursor = conn.execute(f"DELETE FROM _jobs WHERE id = ? AND state IN ({', '.join('?' * len(deletable))})",
                              [job.id, *deletable])
    if cursor.rowcount != 1:
        raise ApiError(400, "API_ERROR", "Error encountered when deleting the job because the job is not terminated")
    org.files.remove(job.id)


async def patch_job(request: Request, job_id: str, api: str) -> Response:
    body = await json_body(request)
    job = await run_in_threadpool(set_state, org_of(request), job_id, api, text_field(body, "state"))
    return sf_json(job_info(job, "patch"))


def add_job_routes(router: APIRouter, base: str, api: str, min_version: float,
                   info: Callable[[Job, str], dict[str, Any]]) -> None:
    """List, get, change state and delete: the routes both Bulk 2.0 job kinds have, differing only in
    their path, the oldest API version that has them and the shape of their job info."""

    @router.get(base)
    def get_jobs(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
        api_version(version, min_version)
        return list_jobs(request, version, api)

    @router.get(base + "/{job_id}")
    def get_job(request: Request, version: str, job_id: str, session: Session = Depends(require_session)) -> Response:
        api_version(version, min_version)
        return sf_json(info(load_job(org_of(request), job_id, api), "get"))

    @router.patch(base + "/{job_id}")
    async def change_state(request: Request, version: str, job_id: str,
                           session: Session = Depends(require_session)) -> Response:
        api_version(version, min_version)
        return await patch_job(request, job_id, api)

    @router.delete(base + "/{job_id}")
    def remove_job(request: Request, version: str, job_id: str,
                   session: Session = Depends(require_session)) -> Response:
        api_version(version, min_version)
        delete_job(org_of(request), job_id, api)
        return Response(status_code=204)
