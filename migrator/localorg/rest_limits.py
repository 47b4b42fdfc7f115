"""``/limits`` and ``/limits/recordCount``: the org's limits with live counters, and records per object.

Key names are Salesforce's, each ``{"Max": n, "Remaining": n}``. Live ones go down as the org is used:
DailyApiRequests (every metered call today, kept across restarts), DailyBulkApiBatches (every Bulk
1.0 batch and each 10,000 records of a Bulk 2.0 ingest job in the last 24 hours), DailyBulkV2QueryJobs,
DailyBulkV2QueryFileStorageMB (query results written in the last 24 hours), DataStorageMB (2 KB per
live record, as Salesforce counts most records) and FileStorageMB (stored binary content). The others
are the figures of an Enterprise Edition org and do not move. Maxima are large so a local org never
runs out: limit checks see the same keys and arithmetic as against Salesforce.
"""

from __future__ import annotations

from typing import Any

from .jobs import Job
from .query_results import ROWS
from .rest_call import RestCall, RestResponse
from .store import sql_name

MB = 1024 * 1024
RECORD_BYTES = 2048
STATIC_LIMITS = {
    "ConcurrentAsyncGetReportInstances": 200, "ConcurrentSyncReportRuns": 20, "DailyAsyncApexExecutions": 250000,
    "DailyAsyncApexTests": 500, "DailyDurableStreamingApiEvents": 10000, "DailyGenericStreamingApiEvents": 10000,
    "DailyStandardVolumePlatformEvents": 10000, "DailyStreamingApiEvents": 10000, "DailyWorkflowEmails": 2000000,
    "DurableStreamingApiConcurrentClients": 20, "HourlyAsyncReportRuns": 1200, "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000, "HourlyDashboardStatuses": 999999999, "HourlyODataCallout": 10000,
    "HourlyPublishedPlatformEvents": 50000, "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "HourlySyncReportRuns": 500, "HourlyTimeBasedWorkflow": 50, "MassEmail": 5000, "PermissionSets": 1500,
    "SingleEmail": 5000, "StreamingApiConcurrentClients": 20,
}
DAILY_BULK_API_BATCHES = 15000
DAILY_BULK_V2_QUERY_JOBS = 10000
DAILY_BULK_V2_QUERY_FILE_STORAGE_MB = 976562
STORAGE_MB = 1024 * 1024


def _entry(maximum: int, used: int) -> dict[str, int]:
    return {"Max": maximum, "Remaining": max(0, maximum - used)}


def live_record_count(call: RestCall) -> dict[str, int]:
    """Live (not deleted) records per object, objects with none left out."""
    conn = call.org.store.conn()
    counts = {}
    for obj in call.org.schema.objects.values():
        (count,) = conn.execute(f'SELECT count(*) FROM {sql_name(obj.name)} WHERE "IsDeleted" = 0').fetchone()
        if count:
            counts[obj.name] = int(count)
    return counts


def _query_file_mb(call: RestCall, jobs: list[Job]) -> int:
    size = 0
    for job in jobs:
        if job.job_type == "V2Query":
            path = call.org.files.root / job.id / ROWS
            size += path.stat().st_size if path.exists() else 0
    return -(-size // MB)


def limits(call: RestCall) -> RestResponse:
    org = call.org
    recent = org.jobs_since(24)
    batch_size = org.settings.batch_size
    batches = sum(-(-job.records_processed // batch_size) for job in recent if job.job_type == "V2Ingest")
    batches += org.bulk1.batches_since(24)
    query_jobs = sum(1 for job in recent if job.job_type == "V2Query")
    data_mb = -(-sum(live_record_count(call).values()) * RECORD_BYTES // MB)
    (blob_bytes,) = org.store.conn().execute("SELECT coalesce(sum(length(content)), 0) FROM _blobs").fetchone()
    body: dict[str, Any] = {
        "DailyApiRequests": _entry(org.settings.daily_api_requests, org.api_usage),
        "DailyBulkApiBatches": _entry(DAILY_BULK_API_BATCHES, batches),
        "DailyBulkV2QueryFileStorageMB": _entry(DAILY_BULK_V2_QUERY_FILE_STORAGE_MB, _query_file_mb(call, recent)),
        "DailyBulkV2QueryJobs": _entry(DAILY_BULK_V2_QUERY_JOBS, query_jobs),
        "DataStorageMB": _entry(STORAGE_MB, data_mb),
        "FileStorageMB": _entry(STORAGE_MB, -(-int(blob_bytes) // MB)),
    }
    body.update({name: _entry(maximum, 0) for name, maximum in STATIC_LIMITS.items()})
    return RestResponse(200, dict(sorted(body.items())))


def record_count(call: RestCall) -> RestResponse:
    """``?sObjects=A,B`` (names matched case-insensitively, unknown ones left out), else every object with records."""
    counts = live_record_count(call)
    wanted = call.params.get("sObjects")
    if wanted:
        names = [obj.name for name in wanted.split(",") if (obj := call.org.schema.get(name.strip())) is not None]
        entries = [{"count": counts.get(name, 0), "name": name} for name in dict.fromkeys(names)]
    else:
        entries = [{"count": count, "name": name} for name, count in sorted(counts.items())]
    return RestResponse(200, {"sObjects": entries})
