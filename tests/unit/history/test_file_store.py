import json

import pytest

from migrator.errors import HistoryError, HistoryLockedError
from migrator.history.entries import Counts, HistoryEntry, LockInfo
from migrator.history.file_store import FileHistoryStore

ORG = "00D000000000001"


def entry(rank: int, **changes) -> HistoryEntry:
    values = {"kind": "versioned", "description": "accounts", "outcome": "success", "version": str(rank),
              "script": f"V{rank}__accounts.yaml", "checksum": "a" * 64, "counts": Counts(source=3, created=3)}
    return HistoryEntry(rank=rank, **(values | changes))


def test_entries_round_trip_and_a_save_replaces_by_rank(tmp_path):
    store = FileHistoryStore(tmp_path / "history", ORG)
    assert store.read().entries == ()
    store.save([entry(1), entry(2)])
    store.save([entry(2, outcome="failed", message="2 failed")])
    history = store.read()
    assert [(e.rank, e.outcome) for e in history.entries] == [(1, "success"), (2, "failed")]
    assert history.entries[0].counts == Counts(source=3, created=3)
    assert history.next_rank == 3
    document = json.loads((tmp_path / "history" / f"{ORG}.json").read_text())
    assert document["org_id"] == ORG and document["format"] == "migrator-history"
    assert "*.lock" in (tmp_path / "history" / ".gitignore").read_text()


def test_the_lock_is_exclusive_names_its_holder_and_can_be_broken(tmp_path):
    first = FileHistoryStore(tmp_path, ORG)
    second = FileHistoryStore(tmp_path, ORG)
    first.acquire(LockInfo(holder="20261129-100000-aaaa", since="2026-11-29T10:00:00Z", by="ada"))
    with pytest.raises(HistoryLockedError) as caught:
        second.acquire(LockInfo(holder="20261129-100001-bbbb", since="2026-11-29T10:00:01Z", by="alan"))
    assert caught.value.holder == "20261129-100000-aaaa"
    assert "repair --release-lock" in str(caught.value) and "ada" in str(caught.value)
    second.release()  # not its lock: nothing happens
    assert first.read().lock.holder == "20261129-100000-aaaa"
    assert second.break_lock().holder == "20261129-100000-aaaa"
    second.acquire(LockInfo(holder="20261129-100002-cccc", since="", by="alan"))
    second.release()
    assert second.read().lock is None


def test_a_file_of_another_org_is_refused(tmp_path):
    FileHistoryStore(tmp_path, ORG).save([entry(1)])
    (tmp_path / "00D000000000002.json").write_bytes((tmp_path / f"{ORG}.json").read_bytes())
    with pytest.raises(HistoryError, match="holds the history of org 00D000000000001"):
        FileHistoryStore(tmp_path, "00D000000000002").read()
    (tmp_path / f"{ORG}.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(HistoryError, match="not valid JSON"):
        FileHistoryStore(tmp_path, ORG).read()
