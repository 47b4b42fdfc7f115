"""Run ids: the newest run must sort last even when several start within one second."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from migrator.run.rundir import new_run_id

START = datetime(2026, 11, 29, 9, 30, 12, 480_000, tzinfo=UTC)


def test_a_run_id_reads_as_its_utc_time_to_the_millisecond():
    assert re.fullmatch(r"20261129-093012-480-[0-9a-f]{4}", new_run_id(START))


def test_run_ids_a_millisecond_apart_sort_in_time_order_whatever_their_random_tails():
    moments = [START + timedelta(milliseconds=step) for step in range(0, 3000, 1)]
    ids = [new_run_id(moment) for moment in moments]
    assert sorted(ids) == ids


def test_run_ids_of_the_same_instant_differ():
    assert len({new_run_id(START) for _ in range(50)}) > 1
