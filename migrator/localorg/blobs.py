"""Binary field values (Attachment/Document ``Body``, ContentVersion ``VersionData``) as BLOBs.

Record tables keep text; a binary value lives in ``_blobs`` keyed by record Id and field, so SOQL,
describe and CSV results never meet raw bytes (Salesforce does not return binary fields in bulk
queries either; REST serves them at ``/sobjects/{object}/{id}/{field}``). A batch that sets a
binary field goes through the DML engine with a placeholder in that column (so required-field and
permission checks apply as for any field); in the same transaction the placeholder is cleared, the
bytes are stored and the length field (``BodyLength``, ``ContentSize``) is set. A new ContentVersion
without a ContentDocumentId gets its ContentDocument, as Salesforce creates one.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import posixpath
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .dml_plan import DmlPlan
from .orgschema import ObjectDef, OrgSchema
from .rowerrors import row_error
from .store import Store, sql_name
from .values import NULL_TOKEN

DDL = """CREATE TABLE IF NOT EXISTS _blobs (
    record_id TEXT NOT NULL, field TEXT NOT NULL, object TEXT NOT NULL, content BLOB NOT NULL,
    PRIMARY KEY (record_id, field))"""
PLACEHOLDER = "#binary"
LENGTH_FIELDS = {"Body": "BodyLength", "VersionData": "ContentSize"}
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+\"-]+)*")


class BinaryValueError(ValueError):
    """A binary cell that cannot be read; `error` is the row's ``CODE:message:fields --`` text."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


Resolver = Callable[[str], bytes]  # cell text (``#file`` or base64) -> bytes, or BinaryValueError


@dataclass
class Binaries:
    """The binary cells of a batch, taken out of its columns."""

    columns: list[pa.Array]  # the batch's columns, binary cells replaced by PLACEHOLDER
    errors: np.ndarray  # object: a row's error, None when its binary cells were read
    contents: dict[str, np.ndarray]  # field -> bytes per row (None: not set by this row)
    nulls: dict[str, np.ndarray]  # field -> rows that set it to null (#N/A)

    def take(self, rows: np.ndarray) -> Binaries:
        return Binaries([c.take(pa.array(rows, pa.int64())) for c in self.columns], self.errors[rows],
                        {k: v[rows] for k, v in self.contents.items()}, {k: v[rows] for k, v in self.nulls.items()})


def decode_base64(cell: str) -> bytes:
    """A binary value given inline (not in a ZIP batch) is base64 text, as in the SOAP and REST APIs."""
    try:
        return base64.b64decode("".join(cell.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BinaryValueError("INVALID_TYPE_ON_FIELD_IN_RECORD", "value not of required type: base64") from None


def ensure_table(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(DDL)


def extract(plan: DmlPlan, columns: list[pa.Array], size: int, resolve: Resolver) -> Binaries | None:
    """Read every binary cell of a batch; None when the batch sets no binary field."""
    binary = [c for c in plan.fields if c.field.type == "base64"]
    if not binary:
        return None
    columns = list(columns)
    errors = np.full(size, None, dtype=object)
    contents: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    for column in binary:
        name = column.field.name
        cells = columns[column.index].to_pylist()
        values = np.full(size, None, dtype=object)
        for row, cell in enumerate(cells):
            if cell in ("", NULL_TOKEN):
                continue
            try:
                values[row] = resolve(cell)
            except BinaryValueError as exc:
                if errors[row] is None:
                    errors[row] = row_error(exc.code, exc.message, [name])
        contents[name] = values
        nulls[name] = np.array([cell == NULL_TOKEN for cell in cells], dtype=bool)
        columns[column.index] = pa.array([PLACEHOLDER if v is not None else c for v, c in zip(values, cells,
                                                                                              strict=True)],
                                         pa.string())
    return Binaries(columns, errors, contents, nulls)


def store_binaries(conn: sqlite3.Connection, store: Store, obj: ObjectDef, binaries: Binaries, ids: np.ndarray,
                   ok: np.ndarray, created: np.ndarray, user_id: str, now: str) -> None:
    """Inside the batch's transaction: the bytes of the rows saved (`ok`) replace the placeholders."""
    table = sql_name(obj.name)
    for name, values in binaries.contents.items():
        length = LENGTH_FIELDS.get(name)
        length_sql = f", {sql_name(length)} = ?" if length and obj.field(length) is not None else ""
        rows = np.flatnonzero(ok & np.not_equal(values, None))
        conn.executemany("INSERT OR REPLACE INTO _blobs (record_id, field, object, content) VALUES (?, ?, ?, ?)",
                         [(ids[r], name, obj.name, values[r]) for r in rows.tolist()])
        conn.executemany(f"UPDATE {table} SET {sql_name(name)} = NULL{length_sql} WHERE \"Id\" = ?",
                         [((len(values[r]), ids[r]) if length_sql else (ids[r],)) for r in rows.tolist()])
        cleared = np.flatnonzero(ok & binaries.nulls[name])
        conn.executemany("DELETE FROM _blobs WHERE record_id = ? AND field = ?", [(ids[r], name) for r in cleared])
        if length_sql:
            conn.executemany(f"UPDATE {table} SET {sql_name(length)} = NULL WHERE \"Id\" = ?",
                             [(ids[r],) for r in cleared])
    if obj.name == "ContentVersion" and "VersionData" in binaries.contents:
        new = np.flatnonzero(ok & created)
        _content_documents(conn, store, [ids[r] for r in new.tolist()], user_id, now)


def _content_documents(conn: sqlite3.Connection, store: Store, version_ids: list[str], user_id: str,
                       now: str) -> None:
    """Salesforce gives each new ContentVersion a file type and, unless it names one, a ContentDocument."""
    if not version_ids or store.schema.get("ContentDocument") is None:
        return
    marks = ", ".join("?" * len(version_ids))
    versions = conn.execute(f'SELECT "Id", "Title", "PathOnClient", "ContentSize", "ContentDocumentId", "OwnerId" '
                            f'FROM "ContentVersion" WHERE "Id" IN ({marks})', version_ids).fetchall()
    published = dict(conn.execute(f'SELECT "Id", "FirstPublishLocationId" FROM "ContentVersion" WHERE "Id" IN '
                                  f'({marks}) AND "FirstPublishLocationId" IS NOT NULL', version_ids).fetchall())
    extensions = {vid: posixpath.splitext(path or "")[1].lstrip(".").lower() for vid, _, path, *_ in versions}
    conn.executemany('UPDATE "ContentVersion" SET "FileExtension" = ?, "FileType" = ? WHERE "Id" = ?',
                     [(ext or None, ext.upper() or "UNKNOWN", vid) for vid, ext in extensions.items()])
    orphans = [v for v in versions if v[4] is None]
    new_ids = store.allocate_ids(conn, "069", len(orphans))
    conn.executemany(
        'INSERT INTO "ContentDocument" ("Id", "IsDeleted", "Title", "FileType", "FileExtension", "ContentSize", '
        '"LatestPublishedVersionId", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", '
        '"LastModifiedById", "SystemModstamp") VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [(doc, title, extensions[vid].upper() or "UNKNOWN", extensions[vid] or None, size, vid, owner or user_id,
          now, user_id, now, user_id, now)
         for doc, (vid, title, _, size, _, owner) in zip(new_ids, orphans, strict=True)])
    conn.executemany('UPDATE "ContentVersion" SET "ContentDocumentId" = ? WHERE "Id" = ?',
                     [(doc, v[0]) for doc, v in zip(new_ids, orphans, strict=True)])
    _link_first_locations(conn, store, [(doc, published[v[0]]) for doc, v in zip(new_ids, orphans, strict=True)
                                        if v[0] in published], user_id, now)
    conn.executemany('UPDATE "ContentDocument" SET "LatestPublishedVersionId" = ?, "ContentSize" = ?, '
                     '"SystemModstamp" = ?, "LastModifiedDate" = ? WHERE "Id" = ?',
                     [(v[0], v[3], now, now, v[4]) for v in versions if v[4] is not None])


def _link_first_locations(conn: sqlite3.Connection, store: Store, links: list[tuple[str, str]], user_id: str,
                          now: str) -> None:
    """A new file published to a record is shared with it: one ContentDocumentLink (Salesforce's
    ShareType I, "inferred", for the publishing location)."""
    if not links or store.schema.get("ContentDocumentLink") is None:
        return
    ids = store.allocate_ids(conn, "06A", len(links))
    conn.executemany(
        'INSERT INTO "ContentDocumentLink" ("Id", "IsDeleted", "ContentDocumentId", "LinkedEntityId", "ShareType", '
        '"Visibility", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp") '
        "VALUES (?, 0, ?, ?, 'I', 'AllUsers', ?, ?, ?, ?, ?)",
        [(link_id, doc, entity, now, user_id, now, user_id, now) for link_id, (doc, entity) in zip(ids, links,
                                                                                                 strict=True)])


@dataclass(frozen=True)
class Blob:
    content: bytes
    content_type: str


def read_blob(conn: sqlite3.Connection, schema: OrgSchema, object_name: str, record_id: str,
              field_name: str) -> Blob | None:
    """A live record's binary value with its media type, or None (no such object, field, record or value)."""
    obj = schema.get(object_name)
    field = obj.field(field_name) if obj is not None else None
    if obj is None or field is None or field.type != "base64":
        return None
    names = [n for n in ("ContentType", "PathOnClient", "Name") if obj.field(n) is not None]
    row = conn.execute(f'SELECT "IsDeleted"{"".join(f", {sql_name(n)}" for n in names)} FROM {sql_name(obj.name)} '
                       f'WHERE "Id" = ?', (record_id,)).fetchone()
    if row is None or row[0]:
        return None
    found = conn.execute("SELECT content FROM _blobs WHERE record_id = ? AND field = ?",
                         (record_id, field.name)).fetchone()
    if found is None:
        return None
    described = dict(zip(names, row[1:], strict=True))
    return Blob(bytes(found[0]), _media_type(described))


def _media_type(described: dict[str, str | None]) -> str:
    """The record's ContentType when it is a well-formed media type, else a guess from the file name."""
    declared = (described.get("ContentType") or "").strip()
    if declared and _MEDIA_TYPE.fullmatch(declared):
        return declared
    for name in (described.get("PathOnClient"), described.get("Name")):
        guessed = mimetypes.guess_type(name or "")[0]
        if guessed:
            return guessed
    return "application/octet-stream"
