"""Bulk API 1.0 batch results: per-row ingest results and query result sets, in CSV, JSON or XML.

Ingest results are stored once, as the CSV a CSV job gets (``"Id","Success","Created","Error"``,
every value quoted, one row per input row in input order, reference §6.8), and turned into the
structured JSON or XML form when a JSON or XML job asks: the ``CODE:message:fields --`` error text
splits back into statusCode, message and fields. Query result sets are written in the job's format
when the batch runs, from one snapshot: CSV all quoted (zero rows: the single line ``Records not
found for this query``), JSON records with ``attributes``, XML ``<records xsi:type="sObject">``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .bulk1_errors import NAMESPACE, XML_DECLARATION, XSI_NAMESPACE, xml_text
from .csvformat import line_block, quote_all, quoted_rows
from .rowerrors import split_error
from .soql import CompiledQuery

INGEST_HEADER = b'"Id","Success","Created","Error"\n'
NO_RECORDS = b"Records not found for this query"
CHUNK_ROWS = 10_000
EXTENSIONS = {"CSV": "csv", "JSON": "json", "XML": "xml"}


def write_ingest_results(path: Path, ids: np.ndarray, created: np.ndarray, errors: np.ndarray) -> None:
    ok = np.equal(errors, None)
    columns = [pa.array(ids.tolist(), pa.string()), pa.array(np.where(ok, "true", "false").tolist(), pa.string()),
               pa.array(np.where(created, "true", "false").tolist(), pa.string()),
               pa.array(["" if e is None else e for e in errors.tolist()], pa.string())]
    path.write_bytes(INGEST_HEADER + quoted_rows(columns, "COMMA", "LF"))


def _ingest_rows(data: bytes) -> Iterator[tuple[str, bool, bool, str]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader, None)
    for record_id, success, created, error in reader:
        yield record_id, success == "true", created == "true", error


def ingest_results_json(data: bytes) -> bytes:
    results = [{"success": success, "created": created, "id": record_id or None,
                "errors": [split_error(error)] if error else []}
               for record_id, success, created, error in _ingest_rows(data)]
    return json.dumps(results, ensure_ascii=False).encode("utf-8")


def ingest_results_xml(data: bytes) -> bytes:
    """``<results><result>`` with children in WSC order: errors*, id, success, created."""
    parts = [f'{XML_DECLARATION}<results xmlns="{NAMESPACE}" xmlns:xsi="{XSI_NAMESPACE}">']
    for record_id, success, created, error in _ingest_rows(data):
        parts.append("<result>")
        if error:
            detail = split_error(error)
            parts.append("<errors>" + "".join(f"<fields>{xml_text(f)}</fields>" for f in detail["fields"])
                         + f"<message>{xml_text(detail['message'])}</message>"
                         f"<statusCode>{xml_text(detail['statusCode'])}</statusCode></errors>")
        parts.append(f"<id>{xml_text(record_id)}</id>" if record_id else '<id xsi:nil="true"/>')
        parts.append(f"<success>{'true' if success else 'false'}</success>"
                     f"<created>{'true' if created else 'false'}</created></result>")
    parts.append("</results>")
    return "".join(parts).encode("utf-8")


# -- query result sets ------------------------------------------------------------------------------------
def write_query_result(path: Path, query: CompiledQuery, conn: sqlite3.Connection, fmt: str,
                       api_version: str) -> int:
    """Run `query` on `conn` (inside the caller's snapshot) into `path`; returns the number of rows."""
    with open(path, "wb") as handle:
        if fmt == "CSV":
            return _csv_result(handle, query, conn)
        records = query.iter_records(conn, api_version)
        if fmt == "JSON":
            return _json_result(handle, records)
        return _xml_result(handle, records)


def _csv_result(handle: io.BufferedWriter, query: CompiledQuery, conn: sqlite3.Connection) -> int:
    total = 0
    for lines in query.iter_csv_lines(conn, CHUNK_ROWS, ","):
        if total == 0:
            handle.write((quote_all(query.columns, "COMMA") + "\n").encode("utf-8"))
        handle.write(line_block(lines, "LF")[0])
        total += len(lines)
    if total == 0:
        handle.write(NO_RECORDS)
    return total


def _json_result(handle: io.BufferedWriter, records: Iterator[dict[str, Any]]) -> int:
    handle.write(b"[")
    total = 0
    while chunk := list(itertools.islice(records, CHUNK_ROWS)):
        text = ",".join(json.dumps(r, ensure_ascii=False) for r in chunk)
        handle.write((b"," if total else b"") + text.encode("utf-8"))
        total += len(chunk)
    handle.write(b"]")
    return total


def _xml_result(handle: io.BufferedWriter, records: Iterator[dict[str, Any]]) -> int:
    handle.write(f'{XML_DECLARATION}<queryResult xmlns="{NAMESPACE}" xmlns:xsi="{XSI_NAMESPACE}">'.encode())
    total = 0
    while chunk := list(itertools.islice(records, CHUNK_ROWS)):
        handle.write("".join(_xml_record("records", r) for r in chunk).encode("utf-8"))
        total += len(chunk)
    handle.write(b"</queryResult>")
    return total


def _xml_record(tag: str, record: dict[str, Any]) -> str:
    """One record: ``<type>`` first, then the record's Id (nil when not selected), then the columns."""
    kind = (record.get("attributes") or {}).get("type", "")
    record_id = record.get("Id")
    parts = [f'<{tag} xsi:type="sObject"><type>{xml_text(kind)}</type>',
             f"<Id>{xml_text(record_id)}</Id>" if record_id is not None else '<Id xsi:nil="true"/>']
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            parts.append(_xml_record(key, value))
        elif value is None:
            parts.append(f'<{key} xsi:nil="true"/>')
        elif isinstance(value, bool):
            parts.append(f"<{key}>{'true' if value else 'false'}</{key}>")
        else:
            parts.append(f"<{key}>{xml_text(value)}</{key}>")
    parts.append(f"</{tag}>")
    return "".join(parts)


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk
