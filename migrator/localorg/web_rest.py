"""The REST resources bulk clients call alongside Bulk API (reference §8).

Versions, resources, limits, global and object describe, a record by Id, and /query, /queryAll
with nextRecordsUrl paging through the SOQL engine. All but ``GET /services/data`` need a Bearer token.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .blobs import read_blob
from .describe import object_describe, object_summary
from .ids import normalize_id
from .rest_query import CursorError
from .soql import SoqlError, compile_query
from .web_common import MAX_VERSION, MIN_VERSION, ApiError, api_version, not_found, org_of, require_session, sf_json

router = APIRouter()
BASE = "/services/data/v{version}"
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


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
                    "queryAll": f"{base}/queryAll", "jobs": f"{base}/jobs",
                    "identity": f"{host}/id/{org.identity.org_id}/{session.user_id}"})


@router.get(BASE + "/limits")
def limits(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    api_version(version)
    org = org_of(request)
    recent = org.jobs_since(24)
    batches = sum(-(-job.records_processed // org.settings.batch_size) for job in recent if job.job_type == "V2Ingest")
    batches += org.bulk1.batches_since(24)  # every Bulk 1.0 batch counts
    query_jobs = sum(1 for job in recent if job.job_type == "V2Query")
    size_mb = org.db_path.stat().st_size // (1024 * 1024) if org.db_path.exists() else 0

    def entry(maximum: int, used: int) -> dict[str, int]:
        return {"Max": maximum, "Remaining": max(0, maximum - used)}

    return sf_json({"DailyApiRequests": entry(org.settings.daily_api_requests, org.api_usage),
                    "DailyBulkApiBatches": entry(15000, batches),
                    "DailyBulkV2QueryJobs": entry(10000, query_jobs),
                    "DailyBulkV2QueryFileStorageMB": entry(976562, 0),
                    "DataStorageMB": entry(1024 * 1024, size_mb),
                    "FileStorageMB": entry(1024 * 1024, 0)})


@router.get(BASE + "/sobjects")
def global_describe(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    api_version(version)
    objects = org_of(request).schema.objects.values()
    return sf_json({"encoding": "UTF-8", "maxBatchSize": 200,
                    "sobjects": [object_summary(obj, version) for obj in objects]})


def _object(request: Request, name: str):
    obj = org_of(request).schema.get(name)
    if obj is None:
        raise not_found()
    return obj


@router.get(BASE + "/sobjects/{name}")
def object_info(request: Request, version: str, name: str, session: Session = Depends(require_session)) -> Response:
    api_version(version)
    return sf_json({"objectDescribe": object_summary(_object(request, name), version), "recentItems": []})


@router.get(BASE + "/sobjects/{name}/describe")
def describe(request: Request, version: str, name: str, session: Session = Depends(require_session)) -> Response:
    api_version(version)
    org = org_of(request)
    obj = _object(request, name)
    record_types: list[dict[str, Any]] = []
    if org.schema.get("RecordType") is not None:
        cursor = org.store.conn().execute(
            'SELECT "Id", "Name", "DeveloperName", "IsActive" FROM "RecordType" WHERE "SobjectType" = ? '
            'AND "IsDeleted" = 0 ORDER BY "Name"', (obj.name,))
        record_types = [dict(zip(("Id", "Name", "DeveloperName", "IsActive"), row, strict=True)) for row in cursor]
    return sf_json(object_describe(org.schema, obj, version, record_types))


@router.get(BASE + "/sobjects/{name}/{record_id}")
def record(request: Request, version: str, name: str, record_id: str,
           session: Session = Depends(require_session)) -> Response:
    api_version(version)
    org = org_of(request)
    obj = _object(request, name)
    full_id = normalize_id(record_id)
    if full_id is None or full_id[:3] != obj.key_prefix:
        raise not_found()
    wanted = request.query_params.get("fields")
    names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else list(obj.fields)
    if not wanted and obj.field("Name") is None and obj.field("LastName") is not None:
        names.append("Name")
    for field_name in names:
        if obj.field(field_name) is None and field_name.lower() != "name":
            raise ApiError(400, "INVALID_FIELD", f"No such column '{field_name}' on sobject of type {obj.name}")
    soql = f"SELECT {', '.join(names)} FROM {obj.name} WHERE Id = '{full_id}'"
    try:
        query = compile_query(soql, org.schema)
    except SoqlError as exc:
        raise ApiError(400, exc.error_code, exc.message) from None
    found = next(iter(query.iter_records(org.store.conn(), version)), None)
    if found is None:
        raise not_found()
    return sf_json(found)


@router.get(BASE + "/sobjects/{name}/{record_id}/{field_name}")
def blob(request: Request, version: str, name: str, record_id: str, field_name: str,
         session: Session = Depends(require_session)) -> Response:
    """A binary field's content (Attachment/Document Body, ContentVersion VersionData), with its media type."""
    api_version(version)
    org = org_of(request)
    obj = _object(request, name)
    full_id = normalize_id(record_id)
    found = read_blob(org.store.conn(), org.schema, obj.name, full_id, field_name) if full_id else None
    if found is None:
        raise not_found()
    return Response(found.content, headers={"Content-Type": found.content_type})


def _batch_size(request: Request, default: int) -> int:
    match = _BATCH.search(request.headers.get("sforce-query-options", ""))
    return min(2000, max(200, int(match[1]))) if match else default


async def _query(request: Request, version: str, include_deleted: bool, locator: str | None) -> Response:
    api_version(version)
    org = org_of(request)
    if locator is not None:
        try:
            page = await run_in_threadpool(org.rest_queries.next_page, locator, version, include_deleted)
        except CursorError:
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator") from None
        return sf_json(page)
    soql = request.query_params.get("q")
    if soql is None or not soql.strip():
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    try:
        page = await run_in_threadpool(org.rest_queries.first_page, soql, include_deleted, version,
                                       _batch_size(request, org.settings.rest_query_batch))
    except SoqlError as exc:
        raise ApiError(400, exc.error_code, exc.message) from None
    return sf_json(page)


@router.get(BASE + "/query")
async def query(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await _query(request, version, False, None)


@router.get(BASE + "/queryAll")
async def query_all(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await _query(request, version, True, None)


@router.get(BASE + "/query/{locator}")
async def query_more(request: Request, version: str, locator: str,
                     session: Session = Depends(require_session)) -> Response:
    return await _query(request, version, False, locator)


@router.get(BASE + "/queryAll/{locator}")
async def query_all_more(request: Request, version: str, locator: str,
                         session: Session = Depends(require_session)) -> Response:
    return await _query(request, version, True, locator)
