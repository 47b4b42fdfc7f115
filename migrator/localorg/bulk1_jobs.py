"""Bulk API 1.0 jobs: creating one from a jobInfo request, closing, aborting, and its jobInfo.

Jobs are rows of ``_jobs`` like Bulk 2.0's, with ``job_type = 'Classic'`` (so the Bulk 2.0 job lists
show them, as Salesforce's do) and ``api`` ``ingest`` or ``query``. What only 1.0 has (PK chunking,
the batch-retry and line-ending headers) is kept as JSON in ``extra``. States: Open, Closed, Aborted
(Failed is in the enum but the local org never fails a whole job). A job's batch counters and
record totals are summed from its batches when a jobInfo is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .bulk1_batches import BatchStore, JobCounts
from .bulk1_errors import Bulk1Error, job_format
from .bulk1_xml import xml_datetime
from .dml_plan import JobRequestError, check_job_request
from .ids import normalize_id
from .ingest_processor import stamp
from .jobs import Job, JobStore
from .orgschema import OrgSchema

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
CONTENT_TYPES = ("CSV", "XML", "JSON", "ZIP_CSV", "ZIP_XML", "ZIP_JSON")
CONCURRENCY = {"parallel": "Parallel", "serial": "Serial", "0": "Parallel", "1": "Serial"}
DEFAULT_CHUNK_SIZE = 100_000
MAX_CHUNK_SIZE = 250_000


@dataclass(frozen=True)
class PkChunking:
    chunkSize: int = DEFAULT_CHUNK_SIZE  # the header's own option names, as stored in `extra`
    parent: str | None = None
    startRow: str | None = None


def parse_pk_chunking(header: str | None, schema: OrgSchema) -> PkChunking | None:
    """``Sforce-Enable-PKChunking``: TRUE/FALSE or ``chunkSize=N; parent=Obj; startRow=Id``, in any case,
    with spaces and a trailing ``;`` tolerated (salesforce-bulk sends ``chunkSize=1000;``)."""
    text = (header or "").strip()
    if not text or text.lower() == "false":
        return None
    options: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part or part.lower() == "true":
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        key = name.lower()
        if not sep or not value:
            raise Bulk1Error("InvalidJob", f"Invalid Sforce-Enable-PKChunking option: {part!r}")
        if key == "chunksize":
            if not value.isdigit() or not 1 <= int(value) <= MAX_CHUNK_SIZE:
                raise Bulk1Error("InvalidJob", f"Invalid chunkSize {value!r}: it must be a whole number from 1 to "
                                               f"{MAX_CHUNK_SIZE:,}")
            options["chunkSize"] = int(value)
        elif key == "parent":
            parent = schema.get(value)
            if parent is None:
                raise Bulk1Error("InvalidJob", f"Invalid PK chunking parent: unable to find object {value}")
            options["parent"] = parent.name
        elif key == "startrow":
            start = normalize_id(value)
            if start is None:
                raise Bulk1Error("InvalidJob", f"Invalid PK chunking startRow: {value} is not a record Id")
            options["startRow"] = start
        else:
            raise Bulk1Error("InvalidJob", f"Unknown Sforce-Enable-PKChunking option: {name}")
    return PkChunking(**options)


def pk_chunking_of(job: Job) -> PkChunking | None:
    options = json.loads(job.extra or "{}").get("pkChunking")
    return PkChunking(**options) if options is not None else None


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Bulk1Error("ClientInputError", f"Field {name} of jobInfo must be a string, got {value!r}")
    return value


def _concurrency(fields: Mapping[str, Any]) -> str:
    """Parallel or Serial; simple-salesforce's JSON jobs send the integers 0 and 1."""
    value = fields.get("concurrencyMode")
    if value is None:
        return "Parallel"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Bulk1Error("InvalidJob", f"Invalid concurrencyMode {value!r}: use Parallel or Serial")
    mode = CONCURRENCY.get(str(value).strip().lower())
    if mode is None:
        raise Bulk1Error("InvalidJob", f"Invalid concurrencyMode {value!r}: use Parallel or Serial")
    return mode


def _choice(value: str | None, allowed: tuple[str, ...], header: str) -> str | None:
    if value is None:
        return None
    for option in allowed:
        if value.strip().lower() == option.lower():
            return option
    raise Bulk1Error("InvalidJob", f"Invalid {header} header {value!r}: use {' or '.join(allowed)}")


def create_job(jobs: JobStore, schema: OrgSchema, fields: Mapping[str, Any], version: str,
               user_id: str, headers: Mapping[str, str]) -> Job:
    """Validate a create request as Salesforce does (400 InvalidJob) and store the new Open job."""
    operation, object_name = _text(fields, "operation"), _text(fields, "object")
    if not operation:
        raise Bulk1Error("InvalidJob", "The job needs an operation: " + ", ".join(INGEST_OPERATIONS + QUERY_OPERATIONS))
    if operation not in INGEST_OPERATIONS + QUERY_OPERATIONS:
        raise Bulk1Error("InvalidJob", f"Invalid operation: {operation}. Valid operations are "
                                       f"{', '.join(INGEST_OPERATIONS + QUERY_OPERATIONS)}")
    if not object_name:
        raise Bulk1Error("InvalidJob", "The job needs an object")
    content_type = _text(fields, "contentType") or "XML"
    if content_type not in CONTENT_TYPES:
        raise Bulk1Error("InvalidJob", f"Invalid contentType: {content_type}. Valid values are "
                                       f"{', '.join(CONTENT_TYPES)}")
    state = _text(fields, "state")
    if state not in (None, "Open"):
        raise Bulk1Error("InvalidJob", f"A new job is Open; it cannot be created in state {state}")
    external_id = _text(fields, "externalIdFieldName")
    if external_id and operation != "upsert":
        raise Bulk1Error("InvalidJob", "externalIdFieldName can only be specified for an upsert job")
    querying = operation in QUERY_OPERATIONS
    if querying:
        if content_type.startswith("ZIP_"):
            raise Bulk1Error("InvalidJob", f"contentType {content_type} is not supported for {operation} jobs")
        obj = schema.get(object_name)
        if obj is None or not obj.queryable:
            raise Bulk1Error("InvalidJob", f"Unable to find object: {object_name}")
        key = None
    else:
        try:
            obj, key = check_job_request(schema, object_name, operation, external_id)
        except JobRequestError as exc:
            raise Bulk1Error("InvalidJob", exc.message) from None
    pk_chunking = parse_pk_chunking(headers.get("sforce-enable-pkchunking"), schema)
    if pk_chunking is not None and not querying:
        raise Bulk1Error("InvalidJob", "PK chunking can only be enabled for query and queryAll jobs")
    extra: dict[str, Any] = {"pkChunking": asdict(pk_chunking) if pk_chunking else None,
                             "disableBatchRetry": _choice(headers.get("sforce-disable-batch-retry"),
                                                          ("TRUE", "FALSE"), "Sforce-Disable-Batch-Retry") == "TRUE",
                             "lineEnding": _choice(headers.get("sforce-line-ending"), ("LF", "CRLF"),
                                                   "Sforce-Line-Ending") or "LF"}
    now = stamp()
    job_id = jobs.new_id()
    job = Job(id=job_id, api="query" if querying else "ingest", job_type="Classic", operation=operation,
              object=obj.name, state="Open", api_version=version, created_by=user_id, created_date=now,
              system_modstamp=now, external_id_field=key.name if key else None,
              assignment_rule_id=_text(fields, "assignmentRuleId"), concurrency_mode=_concurrency(fields),
              content_type=content_type, extra=json.dumps(extra))
    jobs.create(job)
    return job


def load_job(jobs: JobStore, job_id: str) -> Job:
    """A Bulk 1.0 job by its 15- or 18-character Id, or 400 InvalidJob."""
    full_id = normalize_id(job_id)
    job = jobs.get(full_id) if full_id and full_id.startswith("750") else None
    if job is None or job.job_type != "Classic":
        raise Bulk1Error("InvalidJob", f"Invalid job id: {job_id}")
    return job


def job_error(job: Job, code: str, message: str, status: int = 400) -> Bulk1Error:
    """An error about a known job: in the job's own format."""
    return Bulk1Error(code, message, status, job_format(job.content_type))


def change_state(jobs: JobStore, batches: BatchStore, job: Job, fields: Mapping[str, Any]) -> Job:
    """Close (Open -> Closed) or abort (Open/Closed -> Aborted; Queued batches become NotProcessed)."""
    others = sorted(set(fields) - {"state"})
    if others:
        raise job_error(job, "InvalidJob", f"Only the state of an existing job can be changed, not {others[0]}")
    state = _text(fields, "state")
    if state == "Closed":
        if not jobs.transition(job.id, ["Open"], "Closed", system_modstamp=stamp()):
            raise job_error(job, "InvalidJobState", f"Closing already {job.state} Job not allowed")
    elif state == "Aborted":
        if not jobs.transition(job.id, ["Open", "Closed"], "Aborted", system_modstamp=stamp()):
            raise job_error(job, "InvalidJobState", f"Aborting already {job.state} Job not allowed")
        batches.not_processed(job.id, stamp())
    else:
        raise job_error(job, "InvalidJobState", f"Invalid state {state!r} for job {job.id}: a client can set the "
                                                f"state of a job to Closed or Aborted")
    return load_job(jobs, job.id)


def job_info(job: Job, counts: JobCounts, fmt: str) -> list[tuple[str, Any]]:
    """jobInfo fields in XSD order (§6.4). JSON also carries fastPathEnabled and explicit nulls."""
    when = xml_datetime if fmt == "xml" else str
    fields: list[tuple[str, Any]] = [
        ("id", job.id), ("operation", job.operation), ("object", job.object), ("createdById", job.created_by),
        ("createdDate", when(job.created_date)), ("systemModstamp", when(job.system_modstamp)),
        ("state", job.state), ("externalIdFieldName", job.external_id_field),
        ("concurrencyMode", job.concurrency_mode), ("contentType", job.content_type),
        ("numberBatchesQueued", counts.queued), ("numberBatchesInProgress", counts.in_progress),
        ("numberBatchesCompleted", counts.completed), ("numberBatchesFailed", counts.failed),
        ("numberBatchesTotal", counts.total), ("numberRecordsProcessed", counts.records_processed),
        ("numberRetries", 0), ("apiVersion", float(job.api_version)), ("assignmentRuleId", job.assignment_rule_id),
        ("numberRecordsFailed", counts.records_failed), ("totalProcessingTime", counts.total_processing_time),
        ("apiActiveProcessingTime", counts.api_active_processing_time), ("apexProcessingTime", 0)]
    if fmt == "json":
        fields.append(("fastPathEnabled", False))
    return fields
