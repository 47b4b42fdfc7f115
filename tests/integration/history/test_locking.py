"""Two `migrate` on one org: the lock record makes one wait or refuses it, and nothing is recorded twice."""

from __future__ import annotations

import threading

import pytest
import requests

from migrator.client.auth import AccessTokenCredentials
from migrator.client.http import ApiSession
from migrator.errors import HistoryLockedError
from migrator.history.entries import LockInfo
from migrator.history.org_store import OrgHistoryStore


def test_a_second_migrate_while_the_first_holds_the_lock_is_refused_with_the_holder_s_run_id(project):
    refused: list[HistoryLockedError] = []

    def second_migrate_during_the_first(kind, data):
        if kind == "migration_started" and not refused:
            with pytest.raises(HistoryLockedError) as caught:
                project.migrate(target="alias")
            refused.append(caught.value)

    first = project.migrate(on_event=second_migrate_during_the_first)
    [error] = refused
    assert error.holder == first.migrate_id and error.by == project.server.username
    assert first.migrate_id in str(error) and "migrator repair --release-lock" in str(error)
    assert len(first.applied) == 4
    assert [row.state for row in project.info().rows] == ["success"] * 4


def test_with_lock_wait_the_second_migrate_waits_and_then_finds_nothing_to_do(project):
    waiting = threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        outcome["result"] = project.migrate(target="alias", lock_wait=120,
                                            on_event=lambda kind, data: kind == "lock_waiting" and waiting.set())

    thread = threading.Thread(target=second)

    def hold_until_the_second_waits(kind, data):
        if kind == "migration_started" and not thread.is_alive() and "started" not in outcome:
            outcome["started"] = True
            thread.start()
            assert waiting.wait(60), "the second migrate never waited for the lock"

    first = project.migrate(on_event=hold_until_the_second_waits)
    thread.join(120)
    assert len(first.applied) == 4
    assert outcome["result"].applied == () and outcome["result"].up_to_date


def test_two_migrate_started_together_apply_each_migration_once(project):
    barrier = threading.Barrier(2)
    results: list[object] = []

    def go(target: str) -> None:
        barrier.wait()
        try:
            results.append(project.migrate(target=target))
        except HistoryLockedError as exc:
            results.append(exc)

    threads = [threading.Thread(target=go, args=(name,)) for name in ("test", "alias")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(results) == 2
    applied = [a.migration.file.label for r in results if not isinstance(r, Exception) for a in r.applied]
    assert sorted(applied) == sorted(["V001 accounts", "V002 contacts", "V003 opportunities", "R reference data"])
    entries = project.query("SELECT Key__c, Script__c FROM Migrator_Migration__c")
    assert sorted(e["Script__c"] for e in entries) == sorted(
        ["V001__accounts.yaml", "V002__contacts.yaml", "V003__opportunities.yaml", "R__reference_data.yaml"])
    assert len(project.query("SELECT Id FROM Account")) == 6


def test_a_stale_lock_of_a_killed_run_is_named_and_released_explicitly(project):
    http = requests.Session()
    http.verify = str(project.server.ca_file)
    api = ApiSession(http, AccessTokenCredentials(project.server.instance_url, project.server.access_token))
    OrgHistoryStore(api, "org").acquire(LockInfo(holder="20261129-030000-dead", since="2026-11-29T03:00:00Z",
                                                 by="ci@example.com"))  # and then the process was killed
    with pytest.raises(HistoryLockedError, match="locked by run 20261129-030000-dead") as caught:
        project.migrate()
    assert caught.value.since == "2026-11-29T03:00:00Z"
    assert project.info().lock.holder == "20261129-030000-dead"
    repaired = project.repair(release_lock=True)
    assert repaired.released_lock.holder == "20261129-030000-dead"
    assert project.info().lock is None
    assert len(project.migrate().applied) == 4
