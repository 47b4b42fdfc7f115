"""YAML -> `GenerateSpec` / `MaskSpec`: the generated-source and mask parts of a plan, typed.

The schema has already checked the shapes (which keys, which JSON types); what it cannot say is
said here, while building, as located problems: a count range written `5..2`, a choice weight of
0, a column with two generators, a number range upside down. The loader reports them with every
other problem of the plan. Building never raises: a part that is wrong is built as best it can
be, so the checks of the other parts still run.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from migrator.errors import Problem
from migrator.plan.fakespec import (
    COLUMN_KINDS,
    DEFAULT_ANCHOR,
    DEFAULT_LOCALE,
    DEFAULT_POOL,
    DEFAULT_REDACTION,
    MASK_KINDS,
    MAX_CHILDREN,
    MAX_POOL,
    ChildCount,
    ChoiceColumn,
    Column,
    DateColumn,
    FakeColumn,
    GenerateSpec,
    MaskSpec,
    NumberColumn,
    ParentColumn,
    RefColumn,
    SeqColumn,
    TemplateColumn,
    valid_bound,
)
from migrator.plan.model import Location
from migrator.plan.positions import Path as NodePath

ProblemAt = Callable[..., Problem]  # (path, message, *, key=False, hint=None) -> Problem
LocationAt = Callable[[NodePath], Location]

_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")
_SEQ_FIELDS = ("", "n", "seed")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
MAX_DECIMALS = 9


class _Parts:
    """Problems found while building one part, with the helpers that locate them."""

    def __init__(self, problem_at: ProblemAt, location_at: LocationAt):
        self.problem_at, self.location_at = problem_at, location_at
        self.problems: list[Problem] = []

    def add(self, path: NodePath, message: str, **options: Any) -> None:
        self.problems.append(self.problem_at(path, message, **options))


def build_generate(raw: Mapping[str, Any], path: NodePath, step: str, defaults: Mapping[str, Any],
                   problem_at: ProblemAt, location_at: LocationAt) -> tuple[GenerateSpec, list[Problem]]:
    """The generated source at `path` (the `generate` mapping of step `step`), and its problems."""
    parts = _Parts(problem_at, location_at)
    locale = str(raw.get("locale", defaults.get("locale", DEFAULT_LOCALE)))
    per = raw.get("per")
    count, children = None, None
    if per is None:
        count = raw.get("count")
        if not isinstance(count, int) or isinstance(count, bool):
            parts.add((*path, "count") if "count" in raw else path,
                      "a generated source needs count: the number of rows (or per: a generated step, with "
                      "count children of each of its rows)")
            count = 0
    else:
        children = _child_count(raw.get("count", 1), (*path, "count"), parts)
    columns = tuple(_column(name, spec, (*path, "columns", name), locale, parts)
                    for name, spec in (raw.get("columns") or {}).items())
    spec = GenerateSpec(step=step, columns=columns, count=count, per=per, children=children,
                        seed=int(raw.get("seed", defaults.get("seed", 0))), locale=locale,
                        anchor=str(raw.get("anchor", DEFAULT_ANCHOR)), location=location_at(path))
    return spec, parts.problems


def _child_count(raw: object, path: NodePath, parts: _Parts) -> ChildCount:
    """`3`, `2..5` (uniform) or `{0: 1, 1: 3, 2: 2}` (children: weight)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        counts, weights = (raw,), (1.0,)
    elif isinstance(raw, str) and _RANGE.match(raw):
        low, high = (int(g) for g in _RANGE.match(raw).groups())  # type: ignore[union-attr]
        if low > high:
            parts.add(path, f"count range {raw!r} runs backwards; write {high}..{low}")
            low, high = high, low
        counts, weights = tuple(range(low, high + 1)), (1.0,) * (high - low + 1)
    elif isinstance(raw, dict):
        pairs = []
        for key, weight in raw.items():
            if not str(key).strip().isdigit():
                parts.add((*path, key), f"{key!r} is not a number of children", key=True)
                continue
            if not _positive(weight):
                parts.add((*path, key), f"weight of {key} children must be a number above 0, not {weight!r}")
                continue
            pairs.append((int(key), float(weight)))
        pairs.sort()
        counts, weights = tuple(c for c, _ in pairs) or (0,), tuple(w for _, w in pairs) or (1.0,)
    else:
        parts.add(path, f"count of children must be a number, a range such as 2..5, or weights such as "
                  f"{{1: 3, 2: 1}}, not {raw!r}")
        counts, weights = (0,), (1.0,)
    if max(counts) > MAX_CHILDREN:
        parts.add(path, f"at most {MAX_CHILDREN:,} children per parent")
    return ChildCount(counts, weights)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _column(name: str, raw: object, path: NodePath, locale: str, parts: _Parts) -> Column:
    common = {"name": name, "location": parts.location_at(path)}
    if isinstance(raw, str):  # shorthand: a Faker provider
        return FakeColumn(provider=raw, locale=locale, **common)
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kinds = [k for k in COLUMN_KINDS if k in spec]
    if len(kinds) != 1:
        found = f"found {' and '.join(kinds)}" if kinds else "found none"
        parts.add(path, f"a generated column needs exactly one of {', '.join(COLUMN_KINDS)} ({found})")
        return SeqColumn(format="", **common)
    kind = kinds[0]
    blank = spec.get("blank", 0)
    if not isinstance(blank, int | float) or not 0 <= blank < 1:
        parts.add((*path, "blank"), f"blank is the fraction of rows left blank, from 0 up to (not including) 1, "
                  f"not {blank!r}")
        blank = 0
    common["blank"] = float(blank)
    for option, kinds_ in (("start", ("seq",)), ("args", ("fake",)), ("locale", ("fake",)), ("pool", ("fake",))):
        if option in spec and kind not in kinds_:
            parts.add((*path, option), f"{option} applies to {' and '.join(kinds_)} columns, not {kind}", key=True)
    value, at = spec[kind], (*path, kind)
    if kind == "seq":
        _check_seq_format(value, at, parts)
        return SeqColumn(format=str(value), start=int(spec.get("start", 1)), **common)
    if kind == "choice":
        return _choice(value, at, parts, common)
    if kind == "number":
        return _number(value, at, parts, common)
    if kind in ("date", "datetime"):
        for bound in ("from", "to"):
            text = str(value.get(bound, "today"))
            if not valid_bound(text):
                parts.add((*at, bound), f"{text!r} is neither an ISO date nor a date relative to the anchor",
                          hint="e.g. 2024-01-31, today, -30d, +2w, -1y +6m")
        return DateColumn(start=str(value.get("from", "today")), end=str(value.get("to", "today")),
                          with_time=kind == "datetime", **common)
    if kind == "fake":
        pool = int(spec.get("pool", DEFAULT_POOL))
        return FakeColumn(provider=str(value), args=dict(spec.get("args") or {}),
                          locale=str(spec.get("locale", locale)), pool=min(pool, MAX_POOL), **common)
    if kind == "template":
        return TemplateColumn(template=str(value), **common)
    if kind == "parent":
        return ParentColumn(column=str(value), **common)
    step, dot, column = str(value).rpartition(".")
    if not dot or not step or not column:
        parts.add(at, f"ref names a column of another generated step as STEP.COLUMN, not {value!r}",
                  hint="e.g. ref: Account.key")
    return RefColumn(step=step, column=column, **common)


def _check_seq_format(text: object, path: NodePath, parts: _Parts) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(str(text)) if f is not None]
    except ValueError as exc:
        parts.add(path, f"invalid format {text!r}: {exc}", hint='e.g. "ACC-{:06d}"')
        return
    bad = [f for f in fields if f not in _SEQ_FIELDS]
    if bad:
        parts.add(path, f"a seq format may use only {{}} (the row number, also {{n}}) and {{seed}}, not {{{bad[0]}}}",
                  hint='e.g. "ACC-{:06d}" or "S{seed}-{:06d}"')
        return
    try:
        str(text).format(1, n=1, seed=0)
    except (ValueError, IndexError, KeyError) as exc:
        parts.add(path, f"invalid format {text!r}: {exc}", hint='e.g. "ACC-{:06d}"')


def _choice(value: object, path: NodePath, parts: _Parts, common: dict[str, Any]) -> ChoiceColumn:
    if isinstance(value, list):
        values = tuple("" if v is None else str(v) for v in value)
        weights = (1.0,) * len(values)
    else:
        items = dict(value) if isinstance(value, dict) else {}
        for key, weight in items.items():
            if not _positive(weight):
                parts.add((*path, key), f"weight of {key!r} must be a number above 0, not {weight!r}")
        values = tuple(str(k) for k, w in items.items() if _positive(w))
        weights = tuple(float(w) for w in items.values() if _positive(w))
    if not values:
        parts.add(path, "a choice needs at least one value")
        values, weights = ("",), (1.0,)
    return ChoiceColumn(values=values, weights=weights, **common)


def _number(value: object, path: NodePath, parts: _Parts, common: dict[str, Any]) -> NumberColumn:
    spec: dict[str, Any] = value if isinstance(value, dict) else {}
    low, high = spec.get("min", 0), spec.get("max", 0)
    whole = all(isinstance(v, int) for v in (low, high))
    decimals = int(spec.get("decimals", 0 if whole else 2))
    if not 0 <= decimals <= MAX_DECIMALS:
        parts.add((*path, "decimals"), f"decimals must be between 0 and {MAX_DECIMALS}")
        decimals = 0
    scale = 10 ** decimals
    low_units, high_units = round(float(low) * scale), round(float(high) * scale)
    if whole:
        low_units, high_units = int(low) * scale, int(high) * scale
    if low_units > high_units:
        parts.add(path, f"min {low} is above max {high}")
        low_units, high_units = high_units, low_units
    return NumberColumn(low=low_units, high=high_units, decimals=decimals, **common)


def build_mask(raw: object, path: NodePath, defaults: Mapping[str, Any], problem_at: ProblemAt,
               location_at: LocationAt) -> tuple[MaskSpec, list[Problem]]:
    """`mask: email`, `mask: {email: example.com}`, `mask: {redact: "***"}`, `mask: {fake: company}`."""
    parts = _Parts(problem_at, location_at)
    locale = str(defaults.get("locale", DEFAULT_LOCALE))
    location = location_at(path)
    if isinstance(raw, str):
        return MaskSpec(kind=raw, locale=locale, location=location), parts.problems
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kinds = [k for k in ("email", "redact", "fake") if k in spec]
    if len(kinds) != 1:
        found = f"found {' and '.join(kinds)}" if kinds else "found none"
        parts.add(path, f"a mask mapping needs exactly one of email, redact and fake ({found}); other "
                  f"masks are written as a word: {', '.join(k for k in MASK_KINDS if k != 'fake')}")
        return MaskSpec(kind="null", location=location), parts.problems
    kind = kinds[0]
    for option in ("args", "locale", "pool"):
        if option in spec and kind != "fake":
            parts.add((*path, option), f"{option} applies to fake masks, not {kind}", key=True)
    if kind == "email":
        domain = str(spec["email"]).strip().lower()
        if domain != "keep" and not _DOMAIN.match(domain):
            parts.add((*path, "email"), f"{domain!r} is not a domain name; write keep (each address keeps its "
                      "own domain) or a domain such as example.com")
        return MaskSpec(kind="email", domain=None if domain == "keep" else domain, location=location), \
            parts.problems
    if kind == "redact":
        return MaskSpec(kind="redact", text=str(spec["redact"] if spec["redact"] is not None else DEFAULT_REDACTION),
                        location=location), parts.problems
    return MaskSpec(kind="fake", provider=str(spec["fake"]), args=dict(spec.get("args") or {}),
                    locale=str(spec.get("locale", locale)), pool=min(int(spec.get("pool", DEFAULT_POOL)), MAX_POOL),
                    location=location), parts.problems
