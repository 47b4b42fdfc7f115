"""The REST resources tools call alongside Bulk API and around their loads (reference §8).

Versions, resources, limits and record counts, global, basic and full describe, and /query,
/queryAll with nextRecordsUrl paging through the SOQL engine (the work is in rest_reads and
rest_limits). All but ``GET /services/data`` need a Bearer token. sObject rows and collections are
in web_sobjects, composite, batch and tree in web_composite.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from . import rest_limits, rest_reads
from .auth import Session
from .rest_call import call_of, off_the_loop
from .web_common import MAX_VERSION, MIN_VERSION, api_version, org_of, require_session, sf_json

router = APIRouter()
BASE = "/services/data/v{version}"


def release_label(version: float) -> str:
    """Salesforce's release name for an API version: 31.0 is Summer '14, then Winter, Spring, Summer."""
    step = int(version) - 31
    season = ("Summer", "Winter", "Spring")[step % 3]
    return f"{season} '{14 + (step + 2) // 3:02d}"


@router.get("/services/data")
def versions() -> Response:
    return sf_json([{"label": release_label(v), "url": f"/services/data/v{v:.1f}", "version": f"{v:.1f}"}
                    for v in (float(n) for n in range(int(MIN_VERSION), int(MAX_VERSION) + 1))])


@router.get(BASE)
def resources(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    api_version(version)
    org = org_of(request)
    base = f"/services/data/v{version}"
    host = str(request.base_url).rstrip("/")
    return sf_json({"limits": f"{base}/limits", "sobjects": f"{base}/sobjects", "query": f"{base}/query",
                    "queryAll": f"{base}/queryAll", "composite": f"{base}/composite", "jobs": f"{base}/jobs",
                    "identity": f"{host}/id/{org.identity.org_id}/{session.user_id}"})


@router.get(BASE + "/limits")
async def limits(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_limits.limits)


@router.get(BASE + "/limits/recordCount")
async def record_count(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_limits.record_count)


@router.get(BASE + "/sobjects")
async def global_describe(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.describe_global)


@router.get(BASE + "/sobjects/{name}")
async def object_info(request: Request, version: str, name: str,
                      session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.sobject_info, name)


@router.get(BASE + "/sobjects/{name}/describe")
async def describe(request: Request, version: str, name: str, session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.describe, name)


@router.get(BASE + "/query")
async def query(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.query, False)


@router.get(BASE + "/queryAll")
async def query_all(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.query, True)


@router.get(BASE + "/query/{locator}")
async def query_more(request: Request, version: str, locator: str,
                     session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.query_more, locator, False)


@router.get(BASE + "/queryAll/{locator}")
async def query_all_more(request: Request, version: str, locator: str,
                         session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_reads.query_more, locator, True)
