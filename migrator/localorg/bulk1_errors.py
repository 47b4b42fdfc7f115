"""Bulk API 1.0 errors: ``<error>`` XML or ``{exceptionCode, exceptionMessage}`` JSON, HTTP 400.

Which format an error takes is what clients key on (reference §6.3, §6.11): once a job is known, its
content type decides (JSON and ZIP_JSON jobs answer JSON, every other job XML); before that (job
creation, bad session, unknown job) the request's Content-Type does, XML by default. Content types
are sent exactly, without ``; charset=...``: heroku's salesforce-bulk compares them with ``==``.
"""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape

from fastapi import Request
from fastapi.responses import Response

NAMESPACE = "http://www.force.com/2009/06/asyncapi/dataload"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
XML_TYPE = "application/xml"
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
JSON_JOB_TYPES = frozenset({"JSON", "ZIP_JSON"})
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """Element text: escaped, with characters XML 1.0 cannot carry (NUL, most controls) replaced."""
    return escape(_NOT_XML.sub("\ufffd", str(value)))


class Bulk1Error(Exception):
    """A Bulk 1.0 refusal. `fmt` ("xml"/"json") is set once the job is known; None: from the request."""

    def __init__(self, code: str, message: str, status: int = 400, fmt: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fmt = fmt

    def response(self, request: Request | None = None) -> Response:
        fmt = self.fmt or (request_format(request) if request is not None else "xml")
        return error_response(self.code, self.message, self.status, fmt)


def job_format(content_type: str) -> str:
    """The format of a job's control responses: JSON for JSON jobs, XML for XML and CSV jobs."""
    return "json" if content_type in JSON_JOB_TYPES else "xml"


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters ('' when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def request_format(request: Request) -> str:
    return "json" if "json" in media_type(request) else "xml"


def body_response(text: str | bytes, fmt: str, status: int = 200) -> Response:
    """A document with the exact content type (no charset), as every Bulk 1.0 client expects."""
    content = text.encode("utf-8") if isinstance(text, str) else text
    return typed_response(content, XML_TYPE if fmt == "xml" else JSON_TYPE, status)


def typed_response(content: bytes, content_type: str, status: int = 200) -> Response:
    """Starlette appends a charset to ``text/*`` media types; setting the header directly avoids it."""
    return Response(content, status_code=status, headers={"Content-Type": content_type})


def error_response(code: str, message: str, status: int, fmt: str) -> Response:
    if fmt == "json":
        return body_response(json.dumps({"exceptionCode": code, "exceptionMessage": message}), "json", status)
    return body_response(f'{XML_DECLARATION}<error xmlns="{NAMESPACE}"><exceptionCode>{xml_text(code)}'
                         f'</exceptionCode><exceptionMessage>{xml_text(message)}</exceptionMessage></error>',
                         "xml", status)


def is_bulk1_path(request: Request) -> bool:
    return request.url.path.startswith("/services/async/") or request.url.path == "/services/async"
