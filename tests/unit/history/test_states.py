from pathlib import Path

from migrator.history.admin import repairs
from migrator.history.checksum import Checksum
from migrator.history.entries import History, HistoryEntry
from migrator.history.naming import Version, parse_name
from migrator.history.states import LocalMigration, resolve


def local(name: str, checksum: str = "c") -> LocalMigration:
    return LocalMigration(parse_name(Path(name)), Checksum(checksum * 64))


def applied(rank: int, name: str, checksum: str = "c", outcome: str = "success") -> HistoryEntry:
    file = parse_name(Path(name))
    return HistoryEntry(rank=rank, kind=file.kind, description=file.description, outcome=outcome,
                        version=str(file.version) if file.version else None, script=name, checksum=checksum * 64)


def states(rows):
    return [(row.label, row.state) for row in rows]


def test_applied_pending_and_the_order_migrate_would_apply():
    folder = [local("V1__a.yaml"), local("V2__b.yaml"), local("V10__c.yaml"), local("R__ref.yaml")]
    resolution = resolve(folder, History((applied(1, "V1__a.yaml"),)))
    assert states(resolution.rows) == [("V1 a", "success"), ("V2 b", "pending"), ("V10 c", "pending"),
                                       ("R ref", "pending")]
    assert [m.file.script for m in resolution.pending()] == ["V2__b.yaml", "V10__c.yaml", "R__ref.yaml"]
    assert [m.file.script for m in resolution.pending(to=Version.parse("2"))] == ["V2__b.yaml", "R__ref.yaml"]
    assert resolution.problems() == []


def test_a_changed_versioned_migration_blocks_with_both_checksums_but_a_changed_repeatable_reruns():
    folder = [local("V1__a.yaml", "n"), local("R__ref.yaml", "n")]
    resolution = resolve(folder, History((applied(1, "V1__a.yaml", "o"), applied(2, "R__ref.yaml", "o"))))
    assert states(resolution.rows) == [("V1 a", "changed"), ("R ref", "outdated")]
    [problem] = resolution.problems()
    assert problem["state"] == "changed"
    assert "o" * 64 in problem["message"] and "n" * 64 in problem["message"] and "migrator repair" in problem["message"]
    assert [m.file.script for m in resolution.pending()] == ["R__ref.yaml"]


def test_a_failed_migration_is_applied_again_and_a_later_success_supersedes_it():
    folder = [local("V1__a.yaml"), local("V2__b.yaml")]
    failed = resolve(folder, History((applied(1, "V1__a.yaml"), applied(2, "V2__b.yaml", outcome="failed"))))
    assert states(failed.rows) == [("V1 a", "success"), ("V2 b", "failed")]
    assert [m.file.script for m in failed.pending()] == ["V2__b.yaml"]
    fixed = resolve(folder, History((applied(1, "V1__a.yaml"), applied(2, "V2__b.yaml", outcome="failed"),
                                     applied(3, "V2__b.yaml"))))
    assert states(fixed.rows) == [("V1 a", "success"), ("V2 b", "superseded"), ("V2 b", "success")]
    assert fixed.pending() == []


def test_out_of_order_missing_future_and_below_baseline():
    baseline = HistoryEntry(rank=1, kind="baseline", description="<< baseline >>", outcome="success", version="2")
    folder = [local("V1__a.yaml"), local("V2__b.yaml"), local("V3__c.yaml"), local("V4__d.yaml")]
    history = History((baseline, applied(2, "V3_5__gone.yaml"), applied(3, "V4__d.yaml"), applied(4, "V9__new.yaml")))
    resolution = resolve(folder, history)
    assert states(resolution.rows) == [
        ("baseline at V2", "baseline"), ("V3.5 gone", "missing"), ("V4 d", "success"), ("V9 new", "future"),
        ("V1 a", "below_baseline"), ("V2 b", "below_baseline"), ("V3 c", "ignored")]
    assert {p["state"] for p in resolution.problems()} == {"missing", "ignored"}
    assert {p["state"] for p in resolution.problems(out_of_order=True)} == {"missing"}
    assert resolution.pending() == []
    assert [m.file.script for m in resolution.pending(out_of_order=True)] == ["V3__c.yaml"]
    assert resolution.warnings() == ["V9 new was applied by a newer migrations folder than this one"]


def test_repair_accepts_checksums_clears_failures_and_marks_missing_deleted_keeping_the_old_values():
    folder = [local("V1__a.yaml", "n"), local("V2__renamed.yaml"), local("V3__c.yaml")]
    history = History((applied(1, "V1__a.yaml", "o"), applied(2, "V2__b.yaml"),
                       applied(3, "V3__c.yaml", outcome="failed"), applied(4, "V2_5__gone.yaml")))
    changes, actions = repairs(resolve(folder, history).rows, "2026-11-29T10:00:00Z")
    by_rank = {e.rank: e for e in changes}
    assert by_rank[1].checksum == "n" * 64 and by_rank[1].previous_checksum == "o" * 64
    assert (by_rank[2].description, by_rank[2].script) == ("renamed", "V2__renamed.yaml")
    assert by_rank[3].outcome == "cleared"
    assert by_rank[4].outcome == "deleted"
    assert [a.action for a in actions] == ["accepted checksum", "realigned description", "cleared failed entry",
                                           "marked deleted"]
    after = resolve(folder, History(tuple(by_rank[rank] for rank in (1, 2, 3, 4))))
    assert states(after.rows) == [("V1 a", "success"), ("V2 renamed", "success"), ("V3 c", "cleared"),
                                  ("V2.5 gone", "deleted"), ("V3 c", "pending")]
    assert after.problems() == []
