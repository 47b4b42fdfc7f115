"""`migrator describe`: a snapshot of the target's schema for a plan's objects (or named ones).

The snapshot is the org-schema YAML the local org loads (`migrator serve --schema FILE`), so a plan
can be rehearsed against a faithful copy of a real org, and checked in CI with no org at all
(`migrator check PLAN --schema FILE`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from migrator.check.describe import LiveDescribe
from migrator.check.snapshot import snapshot_text
from migrator.client.rest import RestClient
from migrator.config import Target, open_target
from migrator.errors import UsageError
from migrator.plan.model import Plan
from migrator.plan.suggest import did_you_mean


@dataclass(frozen=True)
class DescribeResult:
    """A snapshot: the objects it describes and its YAML text."""

    target: str
    objects: tuple[str, ...]
    text: str
    fields: int


def plan_objects(plan: Plan) -> list[str]:
    """The objects a plan writes to, then the parents its lookups point at, in plan order."""
    names = [s.object for s in plan.objects]
    names += [t for s in plan.objects for lookup in s.lookups for t in lookup.targets]
    return list(dict.fromkeys(names))


def describe(target: Target, names: Iterable[str], *, data_dir: Path) -> DescribeResult:
    """Connect to `target` and take the snapshot of `names`."""
    with open_target(target, data_dir=data_dir) as session:
        return describe_snapshot(LiveDescribe(RestClient(session), target.name), names, target.name)


def describe_snapshot(live: LiveDescribe, names: Iterable[str], target: str) -> DescribeResult:
    """Describe `names` and render the snapshot; an object the org lacks is an error naming it."""
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not wanted:
        raise UsageError("nothing to describe: give a plan or --objects A,B")
    known = live.object_names()
    missing = [n for n in wanted if n.lower() not in known]
    if missing:
        hints = "; ".join(f"{n}{' (' + hint + ')' if (hint := did_you_mean(n, known.values())) else ''}"
                          for n in missing)
        raise UsageError(f"{target} has no object {hints}")
    schema = live.schema(wanted)
    text = snapshot_text(schema)
    return DescribeResult(target=target, objects=tuple(sorted(schema.objects)), text=text,
                          fields=sum(len(o.fields) for o in schema.objects.values()))
