"""Which part to send next: dependencies, lock ranges, serial steps and the concurrency limit.

Pure bookkeeping, no I/O, so every rule is unit-tested. A step becomes ready when every step it
depends on is finished, not when its whole wave is: a hierarchy level's children start as soon as
that level is loaded while unrelated steps of the same wave are still loading, so the org is kept
busy instead of idling at wave barriers. Among the ready parts, those on the longest chain of
steps still to come go first (a contact hierarchy's next level before opportunities nothing waits
for, which then fill the slots left), then those deepest in a chain (the end of a hierarchy before
a step that merely waits with it), then manifest order; the first one that may run now is chosen:

- fewer parts are in flight than the current limit (the adaptive concurrency, see concurrency.py);
- its lock ranges (the parents its rows name, see compile/lockparts.py) meet no range of a part in
  flight, so two jobs never wait on the same parent's lock, nor a range of a part still to come that
  goes before it (a filler must not hold the parents the critical path needs next);
- a serial step (the plan says so, or its lock failures stayed high) has one part in flight at a
  time, and none beside another part naming the same kind of parents.

A step counts as loaded, and its dependents may start, once each of its parts is finished or has
reported that every one of its rows loaded (its job ended clean): a child level does not wait for
its parent level's result files to be downloaded and joined. A part that conflicts with everything
in flight simply waits for its turn; since a part in flight always finishes, the schedule never
deadlocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from migrator.compile.manifest import PartEntry, StepEntry


@dataclass(frozen=True)
class PartTask:
    step: StepEntry
    part: PartEntry
    order: int  # position in manifest order: earlier parts go first

    @property
    def key(self) -> tuple[str, str]:
        return (self.step.id, self.part.path)

    def spaces(self) -> set[str]:
        return {lock.space for lock in self.part.locks}


class Schedule:
    def __init__(self, steps: Iterable[StepEntry], *, finished: Iterable[str] = (), lock_aware: bool = True,
                 serial: Iterable[str] = ()):
        self.steps = {s.id: s for s in steps}
        self.lock_aware = lock_aware
        self.serial: set[str] = set(serial) | {s.id for s in self.steps.values() if s.concurrency == "serial"}
        self.finished: set[str] = set(finished)
        self.loaded: set[str] = set(self.finished)
        self.started_steps: set[str] = set(self.finished)
        self._remaining = {s.id: len(s.parts) for s in self.steps.values() if s.id not in self.finished}
        self._unloaded = dict(self._remaining)
        self._loaded_parts: set[tuple[str, str]] = set()
        self._pending: list[PartTask] = []
        order = 0
        for step in self.steps.values():
            if step.id in self.finished:
                continue
            for part in step.parts:
                self._pending.append(PartTask(step, part, order))
                order += 1
        self.height = chain_heights(self.steps.values())
        self.depth = chain_depths(self.steps.values())
        self.rank = {sid: (-self.height[sid], -self.depth[sid]) for sid in self.steps}
        self._pending.sort(key=lambda task: (self.rank[task.step.id], task.order))
        self.in_flight: dict[tuple[str, str], PartTask] = {}

    # --- state -------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return not self._remaining

    def ready(self, step: StepEntry) -> bool:
        return all(dep in self.loaded or dep not in self.steps for dep in step.depends_on)

    def steps_without_parts(self) -> list[StepEntry]:
        """Ready steps that have nothing to send (a level emptied by a retry's selection): finish them."""
        return [s for s in self.steps.values()
                if s.id in self._remaining and self._remaining[s.id] == 0 and self.ready(s)]

    # --- choosing ----------------------------------------------------------------------------------
    def next(self, limit: int) -> PartTask | None:
        """The next part that may start now, or None (nothing ready, the limit reached, or conflicts)."""
        if len(self.in_flight) >= max(1, limit):
            return None
        for task in self._pending:
            if self.ready(task.step) and not self.conflicts(task) and not self.blocks_a_longer_chain(task):
                return task
        return None

    def blocks_a_longer_chain(self, task: PartTask) -> bool:
        """Whether the part names parents that a part still to come, of a step that goes first, names too.

        Started now, it would hold those parents while the longer chain waits for them; so it waits
        instead, and runs once that chain has gone by (it fills the slots the chain leaves)."""
        if not self.lock_aware or not task.part.locks:
            return False
        mine = self.rank[task.step.id]
        return any(self.rank[other.step.id] < mine and task.part.shares_parents(other.part)
                   for other in self._pending if other is not task)

    def conflicts(self, task: PartTask) -> bool:
        for other in self.in_flight.values():
            serial = task.step.id in self.serial or other.step.id in self.serial
            if serial and (other.step.id == task.step.id or task.spaces() & other.spaces()):
                return True
            if self.lock_aware and task.part.shares_parents(other.part):
                return True
        return False

    # --- transitions -------------------------------------------------------------------------------
    def start(self, task: PartTask) -> bool:
        """Mark the part in flight; True when it is the first part of its step to start."""
        self._pending.remove(task)
        self.in_flight[task.key] = task
        first = task.step.id not in self.started_steps
        self.started_steps.add(task.step.id)
        return first

    def mark_loaded(self, task: PartTask) -> None:
        """Every row of the part loaded (its results may still be on their way)."""
        if task.key in self._loaded_parts:
            return
        self._loaded_parts.add(task.key)
        self._unloaded[task.step.id] -= 1
        if self._unloaded[task.step.id] == 0:
            self.loaded.add(task.step.id)

    def finish(self, task: PartTask) -> bool:
        """The part is done; True when that finished its step."""
        del self.in_flight[task.key]
        self.mark_loaded(task)
        self._remaining[task.step.id] -= 1
        return self.finish_step_if_done(task.step.id)

    def finish_step_if_done(self, step_id: str) -> bool:
        if self._remaining.get(step_id) == 0:
            del self._remaining[step_id]
            self.finished.add(step_id)
            self.loaded.add(step_id)
            return True
        return False

    def make_serial(self, step_id: str) -> bool:
        """From now on the step's parts go one at a time; True when it was not serial yet."""
        if step_id in self.serial:
            return False
        self.serial.add(step_id)
        return True


def chain_heights(steps: Iterable[StepEntry]) -> dict[str, int]:
    """For each step, how many steps the longest chain of steps depending on it holds (0: none)."""
    steps = list(steps)
    dependents: dict[str, list[str]] = {s.id: [] for s in steps}
    for step in steps:
        for dep in step.depends_on:
            if dep in dependents:
                dependents[dep].append(step.id)
    height: dict[str, int] = {}
    for step in reversed(steps):  # manifest order is topological: dependents come later
        height[step.id] = max((height[d] + 1 for d in dependents[step.id] if d in height), default=0)
    return height


def chain_depths(steps: Iterable[StepEntry]) -> dict[str, int]:
    """For each step, how many steps the longest chain of steps it depends on holds (0: none)."""
    depth: dict[str, int] = {}
    for step in steps:  # manifest order is topological: dependencies come first
        depth[step.id] = max((depth[d] + 1 for d in step.depends_on if d in depth), default=0)
    return depth
