"""Bulk API 2.0 JobInfo JSON, with the fields each response carries (reference §1.4, §1.8, §2.3)."""

from __future__ import annotations

from typing import Any

from .jobs import Job


def _base(job: Job) -> dict[str, Any]:
    return {"id": job.id, "operation": job.operation, "object": job.object, "createdById": job.created_by,
            "createdDate": job.created_date, "systemModstamp": job.system_modstamp, "state": job.state}


def content_url(job: Job) -> str:
    return f"services/data/v{job.api_version}/jobs/ingest/{job.id}/batches"


def ingest_info(job: Job, view: str = "get") -> dict[str, Any]:
    """`view`: "create"/"patch" (no metrics), "list" (adds jobType), "get" (everything)."""
    info = _base(job)
    if job.operation == "upsert" and job.external_id_field:
        info["externalIdFieldName"] = job.external_id_field
    if job.assignment_rule_id:
        info["assignmentRuleId"] = job.assignment_rule_id
    info.update({"concurrencyMode": job.concurrency_mode, "contentType": job.content_type,
                 "apiVersion": float(job.api_version)})
    if view in ("get", "list"):
        info["jobType"] = job.job_type
    if job.job_type == "V2Ingest":
        info["contentUrl"] = content_url(job)
    info.update({"lineEnding": job.line_ending, "columnDelimiter": job.column_delimiter})
    if view == "get":
        info.update({"numberRecordsProcessed": job.records_processed, "numberRecordsFailed": job.records_failed,
                     "retries": job.retries, "totalProcessingTime": job.total_processing_time,
                     "apiActiveProcessingTime": job.api_active_processing_time,
                     "apexProcessingTime": job.apex_processing_time})
        if job.error_message:
            info["errorMessage"] = job.error_message
    return info


def query_info(job: Job, view: str = "get") -> dict[str, Any]:
    info = _base(job)
    info.update({"concurrencyMode": job.concurrency_mode, "contentType": job.content_type,
                 "apiVersion": float(job.api_version)})
    if view in ("get", "list"):
        info["jobType"] = job.job_type
    info.update({"lineEnding": job.line_ending, "columnDelimiter": job.column_delimiter})
    if view == "get":
        info.update({"numberRecordsProcessed": job.records_processed, "retries": job.retries,
                     "totalProcessingTime": job.total_processing_time, "isPkChunkingSupported": True})
        if job.error_message:
            info["errorMessage"] = job.error_message
    return info


def job_info(job: Job, view: str = "get") -> dict[str, Any]:
    return query_info(job, view) if job.api == "query" else ingest_info(job, view)
