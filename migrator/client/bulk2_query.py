"""Running one Bulk API 2.0 query to the end: create, wait, read every page, delete the job.

What a caller that wants rows (a check reading the target's keys and values) needs, in one call,
with the clock injected. Pages are yielded as the server's CSV bytes, each with its header row.
Also the SOQL text helpers such callers share: literals and IN lists sized to the SOQL length limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from migrator.client.bulk2 import Bulk2Client
from migrator.errors import BulkApiError, JobFailedError

# Salesforce's limit on a SOQL statement is 100,000 characters; leave room for the rest of it.
SOQL_MAX_CHARS = 100_000


@dataclass(frozen=True)
class QueryTiming:
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    timeout: float = 3600.0
    poll_initial: float = 0.05
    poll_max: float = 1.0


def soql_literal(value: str) -> str:
    """A SOQL string literal: quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_lists(values: Iterable[str], budget: int) -> Iterator[list[str]]:
    """`values` as SOQL literals in groups whose ``IN (...)`` text stays within `budget` characters."""
    group: list[str] = []
    used = 2
    for value in values:
        literal = soql_literal(value)
        if group and used + len(literal) + 1 > budget:
            yield group
            group, used = [], 2
        group.append(literal)
        used += len(literal) + 1
    if group:
        yield group


def run_query(client: Bulk2Client, soql: str, timing: QueryTiming) -> Iterator[bytes]:
    """Every page of `soql`'s results (CSV bytes, header row first). The job is deleted afterwards."""
    job = client.create_query_job(soql)
    try:
        info = client.wait_for_job(job.id, "query", clock=timing.clock, sleep=timing.sleep, timeout=timing.timeout,
                                   poll_initial=timing.poll_initial, poll_max=timing.poll_max)
        if info.state != "JobComplete":
            raise JobFailedError(f"query job {info.state}: {info.error_message or 'no reason given'}",
                                 job_id=job.id, error_code=info.state)
        for page in client.iter_query_result_pages(job.id):
            yield page.data
    finally:
        with contextlib.suppress(BulkApiError):
            client.delete_job(job.id, "query")
