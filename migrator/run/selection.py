"""`--select`: which steps of a run are loaded, dbt-style (`Account`, `Account+`, `+Task`).

Patterns are checked against the plan before anything is compiled or created, so a refused
`--select` leaves nothing behind; the same rule then picks the manifest's steps.
"""

from __future__ import annotations

from collections.abc import Iterable

from migrator.compile.manifest import Manifest
from migrator.errors import UsageError
from migrator.plan.model import Plan


def _patterns(patterns: Iterable[str]) -> list[str]:
    return [p.strip() for p in patterns if p.strip()]


def _matches(pattern: str, step: str, object_name: str) -> bool:
    return pattern.strip("+").lower() in (step.lower(), object_name.lower())


def check_selection(plan: Plan, patterns: Iterable[str]) -> None:
    """Refuse a pattern that names no step of the plan (by step name or object, any case)."""
    for pattern in _patterns(patterns):
        if not any(_matches(pattern, spec.name, spec.object) for spec in plan.objects):
            known = ", ".join(sorted({spec.name for spec in plan.objects}))
            raise UsageError(f"--select {pattern!r} matches no step (steps: {known})")


def select_steps(manifest: Manifest, patterns: Iterable[str]) -> set[str] | None:
    """dbt-style selection: `Account` (its steps), `Account+` (and all that depend on it), `+Task`
    (and all it depends on). Names match plan step names or object names, case-insensitively."""
    chosen: set[str] = set()
    wanted = _patterns(patterns)
    if not wanted:
        return None
    for pattern in wanted:
        hits = {s.id for s in manifest.steps if _matches(pattern, s.step, s.object)}
        if not hits:
            known = sorted({s.step for s in manifest.steps})
            raise UsageError(f"--select {pattern!r} matches no step (steps: {', '.join(known)})")
        if pattern.endswith("+"):
            hits |= _closure(manifest, hits, downstream=True)
        if pattern.startswith("+"):
            hits |= _closure(manifest, hits, downstream=False)
        chosen |= hits
    return chosen


def _closure(manifest: Manifest, start: set[str], *, downstream: bool) -> set[str]:
    found, frontier = set(start), set(start)
    while frontier:
        if downstream:
            nxt = {s.id for s in manifest.steps if frontier & set(s.depends_on)}
        else:
            nxt = {d for s in manifest.steps if s.id in frontier for d in s.depends_on}
        frontier = nxt - found
        found |= nxt
    return found
