"""Plan data with its schema problems cut out, so that the rest of the plan can still be checked.

Reporting problems in rounds (fix the schema errors, then the semantic ones appear, then the
source ones) wastes the user's time. So a schema problem does not stop the checks: the smallest
piece holding it is cut out (a field's bad option, a bad lookup, a step key, a top-level key),
and every check that would have read the cut piece is skipped (`Flaws.touches`), so that the cut
itself never causes a problem. Only what no step can be built without (a step's `object` and
`source`, a list of `objects`) keeps a step, or the whole plan, out of the checks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from migrator.plan.positions import Path as NodePath

_TOP_TABLES = ("sources", "defaults", "variables")
_STEP_REQUIRED = ("object", "source")
_LOOKUP_REQUIRED = ("from", "to")


@dataclass
class Flaws:
    """Paths of the plan cut out because of schema problems, and steps that could not be kept."""

    paths: set[NodePath] = field(default_factory=set)
    broken_steps: set[int] = field(default_factory=set)
    fatal: bool = False  # no list of steps at all: nothing else can be checked

    def touches(self, *paths: NodePath) -> bool:
        """True if anything at, inside or above one of `paths` was cut."""
        return any(_related(cut, path) for cut in self.paths for path in paths)

    def cut(self, *paths: NodePath) -> bool:
        """True if one of `paths`, or a node holding it, was cut (not merely something inside it)."""
        return any(path[:len(cut)] == cut for cut in self.paths for path in paths)

    def setting_cut(self, index: int, raw_step: dict[str, Any], key: str) -> bool:
        """True if step `index`'s own `key` was cut, or the default it inherits for `key` was."""
        return self.cut(("objects", index, key)) or (key not in raw_step and self.cut(("defaults", key)))


def _has_file(step: dict[str, Any]) -> bool:
    """A source a step can be built with: a file name, `{file: ...}`, a database (`{url: ...}`) or
    generated rows (`{generate: ...}`)."""
    source = step.get("source")
    return isinstance(source, str) or (isinstance(source, dict) and (
        isinstance(source.get("file"), str) or isinstance(source.get("url"), str)
        or isinstance(source.get("generate"), dict)))


def _related(a: NodePath, b: NodePath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def prune(data: Any, problem_paths: Iterable[NodePath]) -> tuple[Any, Flaws]:
    """A copy of `data` with the piece around each schema problem cut out, and what was cut."""
    flaws = Flaws()
    if not isinstance(data, dict):
        flaws.fatal = True
        return data, flaws
    data = copy.deepcopy(data)
    for path in sorted(set(problem_paths), key=len, reverse=True):
        _cut(data, path, flaws)
    objects = data.get("objects")
    if not isinstance(objects, list) or not objects:
        flaws.fatal = True
    else:
        for index, step in enumerate(objects):
            if not isinstance(step, dict) or not isinstance(step.get("object"), str) or not _has_file(step):
                flaws.broken_steps.add(index)
    return data, flaws


def _cut(data: dict[str, Any], path: NodePath, flaws: Flaws) -> None:
    if not path:
        return  # a required top-level key is missing: the builder falls back, or nothing is built
    head = path[0]
    if head == "objects":
        _cut_step(data, path, flaws)
    elif head in _TOP_TABLES and len(path) >= 2 and isinstance(data.get(head), dict):
        data[head].pop(path[1], None)
        flaws.paths.add(path[:2])
    else:
        data.pop(head, None)
        flaws.paths.add((head,))


def _cut_step(data: dict[str, Any], path: NodePath, flaws: Flaws) -> None:
    objects = data.get("objects")
    if len(path) < 2 or not isinstance(objects, list) or not isinstance(path[1], int):
        flaws.paths.add(("objects",))
        return
    index = path[1]
    step = objects[index] if index < len(objects) else None
    if len(path) == 2 or not isinstance(step, dict):
        flaws.broken_steps.add(index)
        flaws.paths.add(path[:2])
        return
    key = path[2]
    if key in _STEP_REQUIRED:
        flaws.paths.add(path[:3])
        if key == "source" and len(path) >= 4 and isinstance(step.get("source"), dict) and path[3] != "file":
            step["source"].pop(path[3], None)  # a bad encoding or delimiter: the file is still known
            flaws.paths.add(path[:4])  # which key went: a misspelt `file` is not also a missing one
            return
        if key == "object" and isinstance(step.get("object"), str):
            return  # a badly spelt object name is still a name the other checks can use
        flaws.broken_steps.add(index)
        return
    if key in ("fields", "lookups") and len(path) >= 4 and isinstance(step.get(key), dict):
        _cut_mapping_entry(step[key], path, key == "lookups", flaws)
        return
    step.pop(key, None)
    flaws.paths.add(path[:3])


def _cut_mapping_entry(entries: dict[str, Any], path: NodePath, lookup: bool, flaws: Flaws) -> None:
    """A field keeps its name (it is still sent, so checks of the step's keys stay true) but loses
    its bad option, or all options if the spec itself is wrong; a lookup that lost `from` or `to`
    cannot be kept."""
    name = path[3]
    flaws.paths.add(path[:4])
    spec = entries.get(name)
    if len(path) >= 5 and isinstance(spec, dict) and not (lookup and path[4] in _LOOKUP_REQUIRED):
        spec.pop(path[4], None)
        if not lookup or all(key in spec for key in _LOOKUP_REQUIRED):  # `{from: x, "a to": Account}` lacks `to`
            return
    if lookup:
        entries.pop(name, None)
    else:
        entries[name] = {}
