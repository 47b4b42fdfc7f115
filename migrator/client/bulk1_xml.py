"""Bulk API 1.0 documents: jobInfo / batchInfo requests and answers, in XML or JSON.

Pure functions only. Requests are built in XSD element order (Data Loader's WSC parser reads in that
order, and the server is entitled to as well); answers are read by the response Content-Type, so a
JSON job and an XML (or CSV) job go through the same code. XML is parsed with the standard library,
which never fetches external entities; documents that declare a DOCTYPE are refused outright, since a
Bulk API answer never has one and entity tricks (billion laughs) need one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from migrator.errors import InvalidRequestError

NAMESPACE = "http://www.force.com/2009/06/asyncapi/dataload"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

# jobInfo elements a client may send, in XSD sequence order (§6.4).
JOB_REQUEST_ORDER = ("operation", "object", "state", "externalIdFieldName", "concurrencyMode", "contentType",
                     "assignmentRuleId")
CONTENT_TYPES = frozenset({"CSV", "XML", "JSON", "ZIP_CSV", "ZIP_XML", "ZIP_JSON"})
CONCURRENCY_MODES = frozenset({"Parallel", "Serial"})
BATCH_TERMINAL_STATES = frozenset({"Completed", "Failed", "NotProcessed"})
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _to_int(value: Any) -> int:
    try:
        return int(float(value)) if value not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _concurrency(value: Any) -> str:
    """simple_salesforce's JSON jobs say 0/1; everyone else says Parallel/Serial."""
    if value in (1, "1"):
        return "Serial"
    if value in (0, "0", None, ""):
        return "Parallel"
    return str(value)


@dataclass(frozen=True)
class Bulk1Job:
    """A Bulk API 1.0 job (jobInfo). `raw` keeps every field as the server sent it."""

    id: str
    operation: str
    object: str
    state: str
    content_type: str = "XML"
    concurrency_mode: str = "Parallel"
    external_id_field_name: str | None = None
    created_by_id: str | None = None
    created_date: str | None = None
    system_modstamp: str | None = None
    number_batches_queued: int = 0
    number_batches_in_progress: int = 0
    number_batches_completed: int = 0
    number_batches_failed: int = 0
    number_batches_total: int = 0
    number_records_processed: int = 0
    number_records_failed: int = 0
    number_retries: int = 0
    api_version: str | None = None
    assignment_rule_id: str | None = None
    total_processing_time: int = 0
    api_active_processing_time: int = 0
    apex_processing_time: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Bulk1Job:
        if not data.get("id"):
            raise InvalidRequestError(f"jobInfo without an id: {sorted(data)}")
        version = data.get("apiVersion")
        return cls(
            id=str(data["id"]), operation=str(data.get("operation") or ""), object=str(data.get("object") or ""),
            state=str(data.get("state") or ""), content_type=str(data.get("contentType") or "XML"),
            concurrency_mode=_concurrency(data.get("concurrencyMode")),
            external_id_field_name=_text(data.get("externalIdFieldName")),
            created_by_id=_text(data.get("createdById")), created_date=_text(data.get("createdDate")),
            system_modstamp=_text(data.get("systemModstamp")),
            number_batches_queued=_to_int(data.get("numberBatchesQueued")),
            number_batches_in_progress=_to_int(data.get("numberBatchesInProgress")),
            number_batches_completed=_to_int(data.get("numberBatchesCompleted")),
            number_batches_failed=_to_int(data.get("numberBatchesFailed")),
            number_batches_total=_to_int(data.get("numberBatchesTotal")),
            number_records_processed=_to_int(data.get("numberRecordsProcessed")),
            number_records_failed=_to_int(data.get("numberRecordsFailed")),
            number_retries=_to_int(data.get("numberRetries")),
            api_version=None if version in (None, "") else f"{float(version):.1f}",
            assignment_rule_id=_text(data.get("assignmentRuleId")),
            total_processing_time=_to_int(data.get("totalProcessingTime")),
            api_active_processing_time=_to_int(data.get("apiActiveProcessingTime")),
            apex_processing_time=_to_int(data.get("apexProcessingTime")), raw=dict(data))

    @property
    def is_json(self) -> bool:
        """Control documents of this job are JSON (JSON and ZIP_JSON jobs); all others are XML."""
        return self.content_type in ("JSON", "ZIP_JSON")


@dataclass(frozen=True)
class BatchInfo:
    """One batch of a Bulk API 1.0 job (batchInfo)."""

    id: str
    job_id: str
    state: str
    state_message: str | None = None
    created_date: str | None = None
    system_modstamp: str | None = None
    number_records_processed: int = 0
    number_records_failed: int = 0
    total_processing_time: int = 0
    api_active_processing_time: int = 0
    apex_processing_time: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> BatchInfo:
        if not data.get("id"):
            raise InvalidRequestError(f"batchInfo without an id: {sorted(data)}")
        return cls(
            id=str(data["id"]), job_id=str(data.get("jobId") or ""), state=str(data.get("state") or ""),
            state_message=_text(data.get("stateMessage")), created_date=_text(data.get("createdDate")),
            system_modstamp=_text(data.get("systemModstamp")),
            number_records_processed=_to_int(data.get("numberRecordsProcessed")),
            number_records_failed=_to_int(data.get("numberRecordsFailed")),
            total_processing_time=_to_int(data.get("totalProcessingTime")),
            api_active_processing_time=_to_int(data.get("apiActiveProcessingTime")),
            apex_processing_time=_to_int(data.get("apexProcessingTime")), raw=dict(data))

    @property
    def is_terminal(self) -> bool:
        """Completed, Failed or NotProcessed: this batch will not change any more."""
        return self.state in BATCH_TERMINAL_STATES


# --- requests -------------------------------------------------------------------------------------


def job_document(fields: dict[str, str | None], *, as_json: bool) -> bytes:
    """A jobInfo request body: the given fields (None dropped) in XSD order, as XML or JSON."""
    unknown = set(fields) - set(JOB_REQUEST_ORDER)
    if unknown:
        raise ValueError(f"not a jobInfo request field: {', '.join(sorted(unknown))}")
    ordered = [(name, fields[name]) for name in JOB_REQUEST_ORDER if fields.get(name) is not None]
    if as_json:
        return json.dumps(dict(ordered)).encode("utf-8")
    root = ElementTree.Element(f"{{{NAMESPACE}}}jobInfo")
    for name, value in ordered:
        ElementTree.SubElement(root, f"{{{NAMESPACE}}}{name}").text = str(value)
    return XML_DECLARATION + ElementTree.tostring(root, encoding="unicode", default_namespace=NAMESPACE).encode("utf-8")


def create_job_document(object: str, operation: str, *, content_type: str = "CSV",
                        concurrency_mode: str | None = None, external_id_field: str | None = None,
                        assignment_rule_id: str | None = None) -> bytes:
    """Body of ``POST /job``. JSON for JSON jobs (the server answers in the job's format anyway)."""
    if content_type not in CONTENT_TYPES:
        raise InvalidRequestError(f"contentType must be one of {', '.join(sorted(CONTENT_TYPES))}, "
                                  f"not {content_type!r}")
    if concurrency_mode is not None and concurrency_mode not in CONCURRENCY_MODES:
        raise InvalidRequestError(f"concurrencyMode must be Parallel or Serial, not {concurrency_mode!r}")
    return job_document({"operation": operation, "object": object, "externalIdFieldName": external_id_field,
                         "concurrencyMode": concurrency_mode, "contentType": content_type,
                         "assignmentRuleId": assignment_rule_id},
                        as_json=content_type in ("JSON", "ZIP_JSON"))


def state_document(state: str, *, as_json: bool = False) -> bytes:
    """Body of a close (``Closed``) or abort (``Aborted``) request: the state and nothing else."""
    return job_document({"state": state}, as_json=as_json)


# --- answers --------------------------------------------------------------------------------------


def parse_xml(body: bytes) -> ElementTree.Element:
    """The root element of an XML answer; refuses DOCTYPE/ENTITY declarations and malformed XML."""
    if _DOCTYPE.search(body):
        raise InvalidRequestError("refusing an XML answer that declares a DOCTYPE or ENTITY")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise InvalidRequestError(f"unreadable XML answer from the server: {exc}") from None


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_nil(element: ElementTree.Element) -> bool:
    return element.get(f"{{{XSI_NAMESPACE}}}nil") == "true"


def element_fields(element: ElementTree.Element) -> dict[str, Any]:
    """Children of a flat element (jobInfo, batchInfo) as ``{name: text}``; nil or empty -> None."""
    return {local_name(child.tag): None if _is_nil(child) else (child.text or "").strip() or None
            for child in element}


def is_json_answer(content_type: str, body: bytes) -> bool:
    """JSON when the server says so; otherwise guessed from the first byte (XML starts with ``<``)."""
    lowered = content_type.lower()
    if "json" in lowered:
        return True
    if "xml" in lowered:
        return False
    return body.lstrip()[:1] in (b"{", b"[")


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestError(f"unreadable JSON answer from the server: {exc}") from None


def _expect_root(root: ElementTree.Element, name: str) -> None:
    if local_name(root.tag) != name:
        raise InvalidRequestError(f"expected a <{name}> answer, got <{local_name(root.tag)}>")


def parse_job(body: bytes, content_type: str = "") -> Bulk1Job:
    if is_json_answer(content_type, body):
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise InvalidRequestError("expected a jobInfo object in the JSON answer")
        return Bulk1Job.from_mapping(payload)
    root = parse_xml(body)
    _expect_root(root, "jobInfo")
    return Bulk1Job.from_mapping(element_fields(root))


def parse_batch(body: bytes, content_type: str = "") -> BatchInfo:
    if is_json_answer(content_type, body):
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise InvalidRequestError("expected a batchInfo object in the JSON answer")
        return BatchInfo.from_mapping(payload)
    root = parse_xml(body)
    _expect_root(root, "batchInfo")
    return BatchInfo.from_mapping(element_fields(root))


def parse_batch_list(body: bytes, content_type: str = "") -> list[BatchInfo]:
    """``<batchInfoList>`` or JSON ``{"batchInfo": [...]}`` (a lone object is accepted too)."""
    if is_json_answer(content_type, body):
        payload = parse_json(body)
        items = payload.get("batchInfo", []) if isinstance(payload, dict) else payload
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise InvalidRequestError("expected a batchInfo list in the JSON answer")
        return [BatchInfo.from_mapping(item) for item in items]
    root = parse_xml(body)
    _expect_root(root, "batchInfoList")
    return [BatchInfo.from_mapping(element_fields(child)) for child in root
            if local_name(child.tag) == "batchInfo"]


def parse_result_list(body: bytes, content_type: str = "") -> list[str]:
    """Result-set ids of a query batch: ``<result-list><result>752…</result></result-list>`` or a
    JSON array of strings."""
    if is_json_answer(content_type, body):
        payload = parse_json(body)
        if isinstance(payload, dict):  # tolerate {"result": [...]}
            payload = payload.get("result", [])
        if isinstance(payload, str):
            payload = [payload]
        if not isinstance(payload, list):
            raise InvalidRequestError("expected a list of result ids in the JSON answer")
        return [str(item) for item in payload if item]
    root = parse_xml(body)
    _expect_root(root, "result-list")
    return [(child.text or "").strip() for child in root
            if local_name(child.tag) == "result" and (child.text or "").strip()]


def error_text(status_code: str, message: str, fields: list[str]) -> str:
    """The CSV result form of one record error: ``CODE:message:F1,F2 --`` (``CODE:message:--`` without
    fields), so structured JSON/XML errors read exactly like 1.0 CSV and 2.0 ``sf__Error`` values."""
    return f"{status_code}:{message}:{','.join(fields)} --" if fields else f"{status_code}:{message}:--"


def _errors_from_json(errors: Any) -> str:
    if not errors:
        return ""
    items = errors if isinstance(errors, list) else [errors]
    texts = [error_text(str(e.get("statusCode") or "UNKNOWN_EXCEPTION"), str(e.get("message") or ""),
                        [str(f) for f in (e.get("fields") or [])]) for e in items if isinstance(e, dict)]
    return " ".join(texts)


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def result_rows_from_json(payload: Any) -> list[tuple[str, bool, bool, str]]:
    """JSON ingest results ``[{"id","success","created","errors"}]`` -> (id, success, created, error)."""
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise InvalidRequestError("expected a JSON array of batch results")
    return [(str(item.get("id") or ""), _flag(item.get("success")), _flag(item.get("created")),
             _errors_from_json(item.get("errors"))) for item in payload]


def result_rows_from_xml(body: bytes) -> list[tuple[str, bool, bool, str]]:
    """XML ingest results ``<results><result><errors>*<id><success><created></result>``."""
    root = parse_xml(body)
    _expect_root(root, "results")
    rows = []
    for result in root:
        if local_name(result.tag) != "result":
            continue
        values: dict[str, str] = {}
        errors: list[str] = []
        for child in result:
            name = local_name(child.tag)
            if name == "errors":
                parts = {local_name(part.tag): (part.text or "") for part in child if local_name(part.tag) != "fields"}
                fields = [(part.text or "") for part in child if local_name(part.tag) == "fields"]
                errors.append(error_text(parts.get("statusCode") or "UNKNOWN_EXCEPTION", parts.get("message", ""),
                                         fields))
            else:
                values[name] = "" if _is_nil(child) else (child.text or "").strip()
        rows.append((values.get("id", ""), _flag(values.get("success")), _flag(values.get("created")),
                     " ".join(errors)))
    return rows
