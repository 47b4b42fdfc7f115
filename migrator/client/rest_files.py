"""Files too big for a Bulk API 1.0 ZIP batch, inserted one by one through the REST API.

Salesforce's "Insert or Update Blob Data": `POST /sobjects/ContentVersion` (or Attachment,
Document) with a multipart/form-data body whose first part (`entity_content`, JSON) holds the
record's other fields and whose second part, named after the binary field, holds the file's bytes
(up to 2 GB for ContentVersion, 500 MB for the others). `RestFilesIngest` speaks the executor's
`IngestClient`: it takes a CSV part as a Bulk job would (binary cells are `#path` references in
`files_dir`; relationship headers become nested parent references), sends each row, and keeps the
three result files, in the Bulk 2.0 layout, in its own folder under a job id of its own
(`rest-...`), so that a resumed run finds what was sent instead of sending it again.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from migrator.client.http import ApiSession
from migrator.client.ingest import JobRequest, JobResults, JobStatus, result_paths
from migrator.errors import BulkApiError, InvalidRequestError, NotFoundError

ENTITY_PARTS = {"ContentVersion": "entity_content", "Attachment": "entity_attachment", "Document": "entity_document"}
NULL = "#N/A"


def entity_json(header: list[str], record: list[str], binary: set[str]) -> dict[str, Any]:
    """A CSV row as a REST record: blanks left out, `#N/A` as null, `Account.Legacy_Id__c` as
    `{"Account": {"Legacy_Id__c": ...}}` and `Account:FirstPublishLocation.Key` with its type."""
    entity: dict[str, Any] = {}
    for name, value in zip(header, record, strict=True):
        if name in binary or value == "":
            continue
        if "." in name:
            relationship, key = name.rsplit(".", 1)
            kind, _, relationship = relationship.rpartition(":")
            parent: dict[str, Any] = {key: value}
            if kind:
                parent = {"attributes": {"type": kind}, **parent}
            entity[relationship] = parent
        else:
            entity[name] = None if value == NULL else value
    return entity


class RestFilesIngest:
    """`IngestClient` over the REST multipart insert, one row at a time."""

    api_name = "rest"

    def __init__(self, session: ApiSession, jobs_dir: Path):
        self.session, self.jobs_dir = session, jobs_dir

    def _folder(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def submit(self, request: JobRequest, on_created: Callable[[str], None] | None = None) -> str:
        if request.operation != "insert":
            raise InvalidRequestError(f"files too big for a ZIP batch are inserted through REST; "
                                      f"{request.operation} is not supported for them (use insert)")
        if request.files_dir is None or not request.binary_fields:
            raise InvalidRequestError("a REST file part needs its files folder and binary fields")
        job_id = f"rest-{uuid.uuid4().hex[:15]}"
        folder = self._folder(job_id)
        folder.mkdir(parents=True, exist_ok=False)
        if on_created is not None:
            on_created(job_id)
        with request.csv_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        header, records = rows[0], [r for r in rows[1:] if r]
        outcomes = [self._send_one(request, header, record) for record in records]
        self._write_results(folder, job_id, header, records, outcomes)
        return job_id

    def _send_one(self, request: JobRequest, header: list[str], record: list[str]) -> tuple[str, str]:
        """(record id, '') when it was created, ('', 'CODE:message') when it failed."""
        binary = set(request.binary_fields)
        entity = entity_json(header, record, binary)
        files: dict[str, Any] = {ENTITY_PARTS.get(request.object, "entity_content"):
                                 (None, json.dumps(entity), "application/json")}
        assert request.files_dir is not None
        for name in request.binary_fields:
            reference = record[header.index(name)]
            relative = PurePosixPath(reference.removeprefix("#"))
            path = request.files_dir / Path(*relative.parts)
            try:
                content = path.read_bytes()
            except OSError as exc:
                return "", f"INVALID_FIELD:file {relative} cannot be read: {exc.strerror or exc}"
            files[name] = (relative.name, content, mimetypes.guess_type(relative.name)[0] or "application/octet-stream")
        try:
            response = self.session.request("POST", f"sobjects/{request.object}", files=files)
        except BulkApiError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            return "", f"{exc.error_code or 'UNKNOWN_EXCEPTION'}:{exc.api_message}"
        with response:
            return str(response.json().get("id", "")), ""

    @staticmethod
    def _write_results(folder: Path, job_id: str, header: list[str], records: list[list[str]],
                       outcomes: list[tuple[str, str]]) -> None:
        paths = result_paths(job_id, folder)
        with paths.success_csv.open("w", newline="", encoding="utf-8") as ok, \
                paths.failed_csv.open("w", newline="", encoding="utf-8") as bad:
            good_rows, bad_rows = csv.writer(ok, lineterminator="\n"), csv.writer(bad, lineterminator="\n")
            good_rows.writerow(["sf__Id", "sf__Created", *header])
            bad_rows.writerow(["sf__Id", "sf__Error", *header])
            for record, (record_id, error) in zip(records, outcomes, strict=True):
                if error:
                    bad_rows.writerow(["", error, *record])
                else:
                    good_rows.writerow([record_id, "true", *record])
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(header)
        paths.unprocessed_csv.write_text(buffer.getvalue(), encoding="utf-8")

    def status(self, job_id: str) -> JobStatus:
        paths = result_paths(job_id, self._folder(job_id))
        if not paths.unprocessed_csv.exists():
            raise NotFoundError(f"no REST file job {job_id} in {self.jobs_dir}", job_id=job_id)
        with paths.success_csv.open(encoding="utf-8") as ok, paths.failed_csv.open(encoding="utf-8") as bad:
            done, failed = sum(1 for _ in csv.reader(ok)) - 1, sum(1 for _ in csv.reader(bad)) - 1
        return JobStatus(job_id=job_id, state="JobComplete", records_processed=done + failed, records_failed=failed,
                         error_message=None, terminal=True, failed=False)

    def results(self, job_id: str, dest_dir: Path, status: JobStatus | None = None) -> JobResults:
        self.status(job_id)
        source, target = result_paths(job_id, self._folder(job_id)), result_paths(job_id, dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        for a, b in ((source.success_csv, target.success_csv), (source.failed_csv, target.failed_csv),
                     (source.unprocessed_csv, target.unprocessed_csv)):
            shutil.copyfile(a, b)
        return target

    def abort(self, job_id: str) -> None:
        """Nothing to abort: every row was sent (or not) before `submit` returned."""

    def delete(self, job_id: str) -> None:
        shutil.rmtree(self._folder(job_id), ignore_errors=True)
