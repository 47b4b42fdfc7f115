"""Tunable limits of a local org. Defaults are Salesforce's; tests shrink them to reach the edges."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class OrgSettings:
    max_upload_bytes: int = 150 * MB  # per Bulk 2.0 ingest job (Salesforce: 150 MB)
    batch_size: int = 10_000  # rows per internal batch (one transaction each), as Salesforce chunks
    list_page_size: int = 1000  # jobs per page of GET /jobs/ingest and /jobs/query
    query_page_rows: int = 2_000_000  # rows of a query results page when the client sends no maxRecords
    rest_query_batch: int = 2000  # records per page of REST /query
    in_memory_index_rows: int = 50_000  # ingest jobs this big probe key fields through a hash index
    daily_api_requests: int = 5_000_000  # the Max reported by Sforce-Limit-Info and /limits
    multipart_max_chars: int = 100_000  # CSV characters allowed in a multipart job creation
    jwt_public_key: str | None = None  # PEM public key or certificate the JWT bearer flow verifies assertions
    # against (a connected app's uploaded certificate); None: the org's own connected-app key (certs.py)
    bulk1_max_batch_bytes: int = 10_000_000  # per Bulk 1.0 batch, zip included ("Exceeded max size limit of ...")
    bulk1_max_batch_records: int = 10_000  # records per Bulk 1.0 batch
    bulk1_max_zip_files: int = 1_000  # files in a ZIP batch (Salesforce's figure unconfirmed)
    bulk1_max_unzipped_bytes: int = 20_000_000  # a ZIP batch unzipped (Salesforce's figure unconfirmed)
    bulk1_poll_wait_ms: int = 250  # a batchInfo poll of a running batch answers when it ends, or after this
