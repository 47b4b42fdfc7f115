"""Pure parts of the Bulk 2.0 client: JobInfo parsing, page helpers, polling backoff, JobStatus."""

from __future__ import annotations

import pytest

from migrator.client.bulk2 import JobInfo, _locator, _skip_first_line
from migrator.client.ingest import JobRequest, result_paths, status_from_job_info
from migrator.client.polling import POLL_TIMEOUT_CODE, poll_until
from migrator.errors import TransientApiError

GET_EXAMPLE = {"id": "7505f00000AbCdEAAX", "operation": "upsert", "object": "Account",
               "createdById": "0055f000001XyZaAAK", "createdDate": "2024-05-01T10:00:00.000+0000",
               "systemModstamp": "2024-05-01T10:00:07.000+0000", "state": "JobComplete",
               "externalIdFieldName": "Legacy_Id__c", "concurrencyMode": "Parallel", "contentType": "CSV",
               "apiVersion": 62.0, "jobType": "V2Ingest", "lineEnding": "LF", "columnDelimiter": "COMMA",
               "numberRecordsProcessed": 3, "numberRecordsFailed": 1, "retries": 0,
               "totalProcessingTime": 410, "apiActiveProcessingTime": 350, "apexProcessingTime": 0}


def test_job_info_from_real_shape():
    info = JobInfo.from_json(GET_EXAMPLE)
    assert (info.id, info.object, info.operation, info.state) == ("7505f00000AbCdEAAX", "Account", "upsert",
                                                                  "JobComplete")
    assert info.external_id_field_name == "Legacy_Id__c"
    assert info.api_version == "62.0" and info.job_type == "V2Ingest"
    counts = (info.number_records_processed, info.number_records_failed, info.total_processing_time)
    assert counts == (3, 1, 410)
    assert info.is_terminal and not info.is_failed
    assert info.raw["apexProcessingTime"] == 0


def test_job_info_create_subset_defaults():
    info = JobInfo.from_json({"id": "750A", "operation": "insert", "object": "Contact", "state": "Open",
                              "apiVersion": 59})
    assert info.api_version == "59.0" and info.number_records_processed == 0 and not info.is_terminal


@pytest.mark.parametrize(("state", "terminal", "failed"), [
    ("Open", False, False), ("UploadComplete", False, False), ("InProgress", False, False),
    ("JobComplete", True, False), ("Failed", True, True), ("Aborted", True, True)])
def test_states(state, terminal, failed):
    info = JobInfo.from_json({"id": "750A", "operation": "insert", "state": state,
                              "errorMessage": "boom" if failed else None})
    status = status_from_job_info(info)
    assert (info.is_terminal, info.is_failed) == (terminal, failed)
    assert (status.terminal, status.failed) == (terminal, failed)
    assert status.error_message == ("boom" if failed else None)


@pytest.mark.parametrize(("value", "expected"), [("null", None), ("", None), (None, None), ("MTAw", "MTAw")])
def test_locator(value, expected):
    assert _locator(value) == expected


def test_skip_first_line_across_chunk_boundaries():
    chunks = [b'"Na', b'me","Id"\r', b'\n"a","1"\n', b'"b","2"\n']
    assert b"".join(_skip_first_line(iter(chunks))) == b'"a","1"\n"b","2"\n'
    assert b"".join(_skip_first_line(iter([b'"Name"']))) == b""


def test_result_paths_are_per_job():
    paths = result_paths("750X", __import__("pathlib").Path("/r"))
    assert [p.name for p in (paths.success_csv, paths.failed_csv, paths.unprocessed_csv)] == [
        "750X-success.csv", "750X-failed.csv", "750X-unprocessed.csv"]
    assert JobRequest("Account", "insert", None, paths.success_csv).concurrency == "parallel"


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_backs_off_exponentially_up_to_the_cap():
    clock = FakeClock()
    states = iter(["UploadComplete"] * 7 + ["JobComplete"])
    seen: list[str] = []
    result = poll_until(lambda: next(states), lambda s: s == "JobComplete", clock=clock, sleep=clock.sleep,
                        timeout=None, poll_initial=0.5, poll_max=2.0, on_poll=seen.append)
    assert result == "JobComplete"
    assert clock.sleeps == [0.5, 0.75, 1.125, 1.6875, 2.0, 2.0, 2.0]
    assert len(seen) == 8


def test_poll_timeout_raises_transient_with_code():
    clock = FakeClock()
    with pytest.raises(TransientApiError) as caught:
        poll_until(lambda: "InProgress", lambda s: False, clock=clock, sleep=clock.sleep, timeout=5.0,
                   poll_initial=1.0, poll_max=2.0, job_id="750Z")
    assert caught.value.error_code == POLL_TIMEOUT_CODE and caught.value.job_id == "750Z"
    assert sum(clock.sleeps) == pytest.approx(5.0)  # never sleeps past the deadline


def test_poll_rejects_bad_intervals():
    with pytest.raises(ValueError):
        poll_until(lambda: 1, lambda v: True, clock=lambda: 0.0, sleep=lambda s: None, timeout=1,
                   poll_initial=0)
