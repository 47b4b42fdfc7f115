"""Bulk API 1.0 documents: reading jobInfo requests, writing jobInfo / batchInfo / lists, in XML or JSON.

Reading is order-tolerant (jsforce puts ``assignmentRuleId`` before ``contentType``); writing follows
the XSD sequence exactly, because Data Loader's WSC reader expects each element in turn (reference
§6.4, §6.5). XML is read with expat directly so that a DOCTYPE or an entity declaration is refused
before anything is expanded (billion laughs), and external entities are never fetched. Documents are
written with the dataload namespace as the default namespace.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from .bulk1_errors import NAMESPACE, XML_DECLARATION, Bulk1Error, xml_text

JOB_FIELDS = ("id", "operation", "object", "createdById", "createdDate", "systemModstamp", "state",
              "externalIdFieldName", "concurrencyMode", "contentType", "numberBatchesQueued",
              "numberBatchesInProgress", "numberBatchesCompleted", "numberBatchesFailed", "numberBatchesTotal",
              "numberRecordsProcessed", "numberRetries", "apiVersion", "assignmentRuleId", "numberRecordsFailed",
              "totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime")
BATCH_FIELDS = ("id", "jobId", "state", "stateMessage", "createdDate", "systemModstamp", "numberRecordsProcessed",
                "numberRecordsFailed", "totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime")
_READ_ONLY_JOB_FIELDS = frozenset(JOB_FIELDS) - {"operation", "object", "state", "externalIdFieldName",
                                                 "concurrencyMode", "contentType", "assignmentRuleId"}
Fields = Sequence[tuple[str, Any]]


class XmlInputError(ValueError):
    """Not well-formed XML, or XML with a DOCTYPE / entity declaration."""


class _Refused(Exception):
    pass


def _clark(name: str) -> str:
    """expat's ``uri}local`` (namespace_separator ``}``) as ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(data: bytes) -> Element:
    """The document's root element. No DTD, no entity declarations, no external entities."""
    builder = TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_: object) -> None:
        raise _Refused()

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _clark(name), {_clark(key): value for key, value in attrs.items()})
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
        return builder.close()
    except _Refused:
        raise XmlInputError("a DOCTYPE or entity declaration is not allowed") from None
    except expat.ExpatError as exc:
        raise XmlInputError(str(exc)) from None
    except AssertionError:  # TreeBuilder: no root element at all
        raise XmlInputError("no element found") from None


def is_nil(element: Element) -> bool:
    return any(local_name(key) == "nil" and value.strip().lower() in ("true", "1")
               for key, value in element.attrib.items())


# -- requests ----------------------------------------------------------------------------------------------
def parse_job_request(data: bytes, fmt: str) -> dict[str, Any]:
    """The fields of a jobInfo request (create, close or abort), by name; empty values left out."""
    if fmt == "json":
        return _json_job_request(data)
    try:
        root = parse_xml(data)
    except XmlInputError as exc:
        raise Bulk1Error("InvalidXml", f"Unable to parse the jobInfo XML: {exc}") from None
    if local_name(root.tag) != "jobInfo":
        raise Bulk1Error("InvalidXml", f"Expected a jobInfo element, found {local_name(root.tag)}")
    fields: dict[str, Any] = {}
    for child in root:
        name = local_name(child.tag)
        if name not in JOB_FIELDS and name != "fastPathEnabled":
            raise Bulk1Error("InvalidXml", f"Unexpected element {name} in jobInfo")
        if len(child):
            raise Bulk1Error("InvalidXml", f"Element {name} of jobInfo must hold text only")
        if name in fields:
            raise Bulk1Error("InvalidXml", f"Element {name} appears twice in jobInfo")
        text = (child.text or "").strip()
        if text:
            fields[name] = text
    return {k: v for k, v in fields.items() if k not in _READ_ONLY_JOB_FIELDS}


def _json_job_request(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant) if data.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Bulk1Error("ClientInputError", f"Failed to parse the jobInfo JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Bulk1Error("ClientInputError", "The jobInfo JSON must be an object")
    unknown = sorted(set(body) - set(JOB_FIELDS) - {"fastPathEnabled"})
    if unknown:
        raise Bulk1Error("ClientInputError", f"Unrecognized field {unknown[0]!r} in jobInfo")
    for name, value in body.items():
        if isinstance(value, dict | list):
            raise Bulk1Error("ClientInputError", f"Field {name} of jobInfo must be a string or a number")
    return {k: v for k, v in body.items() if k not in _READ_ONLY_JOB_FIELDS and v not in (None, "")}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


# -- responses ---------------------------------------------------------------------------------------------
def xml_datetime(stamp: str) -> str:
    """``2024-03-20T21:42:13.000+0000`` (JSON form) -> ``2024-03-20T21:42:13.000Z`` (XML form)."""
    return stamp[:-5] + "Z" if stamp.endswith("+0000") else stamp


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return xml_text(value)


def _xml_children(fields: Fields) -> str:
    return "".join(f"<{name}>{_xml_value(value)}</{name}>" for name, value in fields if value is not None)


def document(root: str, fields: Fields, fmt: str) -> str:
    """One jobInfo / batchInfo document. XML leaves out None values; JSON keeps them as null."""
    if fmt == "json":
        return json.dumps(dict(fields), ensure_ascii=False)
    return f'{XML_DECLARATION}<{root} xmlns="{NAMESPACE}">{_xml_children(fields)}</{root}>'


def batch_list_document(batches: Iterable[Fields], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"batchInfo": [{k: v for k, v in b if v is not None} for b in batches]},
                          ensure_ascii=False)
    inner = "".join(f"<batchInfo>{_xml_children(b)}</batchInfo>" for b in batches)
    return f'{XML_DECLARATION}<batchInfoList xmlns="{NAMESPACE}">{inner}</batchInfoList>'


def result_list_document(result_ids: Sequence[str], fmt: str) -> str:
    """A query batch's result-set ids: XML ``<result-list>``, JSON a plain array."""
    if fmt == "json":
        return json.dumps(list(result_ids))
    inner = "".join(f"<result>{xml_text(r)}</result>" for r in result_ids)
    return f'{XML_DECLARATION}<result-list xmlns="{NAMESPACE}">{inner}</result-list>'
