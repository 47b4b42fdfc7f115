"""The scheduler: dependencies without wave barriers, lock ranges, serial steps, the limit, priorities."""

from migrator.compile.manifest import LockRange, PartEntry, StepEntry
from migrator.run.scheduler import Schedule, chain_heights


def part(path: str, lo: str | None = None, hi: str | None = None, space: str = "Account.Legacy_Id__c") -> PartEntry:
    locks = (LockRange(space, "AccountId", lo, hi),) if lo is not None and hi is not None else ()
    return PartEntry(path=path, rows=10, bytes=100, sha256="", source_index=path + ".src", locks=locks)


def step(step_id: str, parts: tuple[PartEntry, ...], depends_on: tuple[str, ...] = (), wave: int = 0,
         concurrency: str = "parallel") -> StepEntry:
    return StepEntry(id=step_id, step=step_id.split(":")[0], object="Contact", operation="upsert",
                     external_id="Legacy_Id__c", key_column="Legacy_Id__c", api="bulk2", concurrency=concurrency,
                     pass_no=1, level=None, wave=wave, depends_on=depends_on, columns=("Legacy_Id__c",),
                     parts=parts, rows=10 * len(parts))


def drain(schedule: Schedule, limit: int) -> list[str]:
    started = []
    while (task := schedule.next(limit)) is not None:
        schedule.start(task)
        started.append(f"{task.step.id}/{task.part.path}")
    return started


def test_parts_sharing_parents_never_run_at_once():
    contacts = step("Contact", (part("c1", "a", "f"), part("c2", "g", "m"), part("c3", "n", "z")))
    deals = step("Opportunity", (part("o1", "a", "e"), part("o2", "f", "k"), part("o3", "l", "z")))
    schedule = Schedule([contacts, deals])
    started = drain(schedule, limit=10)
    assert started == ["Contact/c1", "Contact/c2", "Contact/c3"]  # every deal part meets one of them
    for first in schedule.in_flight.values():
        for second in schedule.in_flight.values():
            assert first is second or not first.part.shares_parents(second.part)
    schedule.finish(next(t for t in schedule.in_flight.values() if t.part.path == "c2"))
    assert drain(schedule, limit=10) == []  # o2 meets c1 (f) too, o1 meets c1, o3 meets c3
    schedule.finish(next(t for t in schedule.in_flight.values() if t.part.path == "c1"))
    assert drain(schedule, limit=10) == ["Opportunity/o1", "Opportunity/o2"]
    unaware = Schedule([contacts, deals], lock_aware=False)
    assert len(drain(unaware, limit=10)) == 6


def test_a_step_starts_when_its_dependencies_are_loaded_not_when_its_wave_is():
    parent = step("Account:L0", (part("p1"),))
    other = step("Lead", (part("l1"), part("l2")))
    child = step("Account:L1", (part("k1"),), depends_on=("Account:L0",), wave=1)
    schedule = Schedule([parent, other, child])
    assert drain(schedule, limit=10) == ["Account:L0/p1", "Lead/l1", "Lead/l2"]
    loaded = next(t for t in schedule.in_flight.values() if t.step.id == "Account:L0")
    schedule.mark_loaded(loaded)  # its job loaded every row; results still on their way
    assert drain(schedule, limit=10) == ["Account:L1/k1"]  # Lead (same wave) is still loading
    assert not schedule.finish(loaded) or "Account:L0" in schedule.finished


def test_the_limit_and_serial_steps():
    parts = tuple(part(f"p{n}", f"k{n}", f"k{n}") for n in range(4))
    schedule = Schedule([step("Contact", parts)])
    assert len(drain(schedule, limit=2)) == 2
    serial = Schedule([step("Contact", parts, concurrency="serial"),
                       step("Task", (part("t1", "x", "x"), part("t2", space="Lead.Email"),))])
    # one serial part at a time; a part naming parents of the same kind waits too, others may go
    assert drain(serial, limit=10) == ["Contact/p0", "Task/t2"]
    assert serial.make_serial("Task") and not serial.make_serial("Task")


def test_longest_chains_go_first_and_empty_steps_finish_once_ready():
    levels = [step("Contact:L0", (part("c0"),))]
    levels += [step(f"Contact:L{n}", (part(f"c{n}"),), depends_on=(f"Contact:L{n - 1}",), wave=n) for n in (1, 2)]
    deals = step("Opportunity", (part("o1"),))
    empty = step("Lead", (), depends_on=("Contact:L2",), wave=3)
    assert chain_heights([*levels, deals, empty]) == {"Contact:L0": 3, "Contact:L1": 2, "Contact:L2": 1,
                                                      "Opportunity": 0, "Lead": 0}
    schedule = Schedule([deals, *levels, empty])
    assert drain(schedule, limit=1) == ["Contact:L0/c0"]  # the chain before the opportunities
    assert schedule.steps_without_parts() == []
    for _ in levels:
        schedule.finish(next(iter(schedule.in_flight.values())))
        drain(schedule, limit=1)
    assert [s.id for s in schedule.steps_without_parts()] == ["Lead"]
