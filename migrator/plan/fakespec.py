"""Generated sources and masks as data: what `source: {generate: ...}` and a field's `mask:` say.

A generated source describes rows instead of reading them: how many (`count`, or `count` children
`per` row of another generated step), the seed they are drawn from, and each column's generator.
A mask says how a field's real value is replaced by a fake one. Both are plain frozen dataclasses,
located like the rest of the model; `plan/fakebuild.py` builds them from YAML, and the `fake`
stage turns them into values. Nothing here draws a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from migrator.plan.location import NOWHERE, Location

COLUMN_KINDS = ("seq", "choice", "number", "date", "datetime", "fake", "template", "parent", "ref")
MASK_KINDS = ("name", "first_name", "last_name", "email", "phone", "street", "hash", "redact", "null", "fake")
DEFAULT_LOCALE = "en_US"
DEFAULT_POOL = 1000  # Faker values drawn once per column; rows pick from them
MAX_POOL = 100_000
DEFAULT_ANCHOR = "today"  # the plan variable relative dates count from
DEFAULT_REDACTION = "REDACTED"
MAX_CHILDREN = 10_000  # children of one parent
GENERATED_PREFIX = "generate:"

# A relative date: `today`, `now`, or signed amounts of days, weeks, months, years ("-30y", "+1m -2d").
_RELATIVE = re.compile(r"^\s*(?:today|now|(?:[+-]\d+\s*[dwmy]\s*)+)\s*$")
_AMOUNT = re.compile(r"([+-]\d+)\s*([dwmy])")


@dataclass(frozen=True, kw_only=True)
class Column:
    """One generated column: its name (what fields read with `from:`), the fraction of rows left
    blank, and where it is written."""

    name: str
    blank: float = 0.0
    location: Location = NOWHERE

    @property
    def kind(self) -> str:
        if isinstance(self, DateColumn) and self.with_time:
            return "datetime"
        return _KIND_OF[type(self)]


@dataclass(frozen=True, kw_only=True)
class SeqColumn(Column):
    """`ACC-{:06d}`: the row's number (from `start`) and `{seed}` formatted into text."""

    format: str
    start: int = 1


@dataclass(frozen=True, kw_only=True)
class ChoiceColumn(Column):
    values: tuple[str, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class NumberColumn(Column):
    """A uniform number in low..high, both counted in units of 10**-decimals."""

    low: int
    high: int
    decimals: int = 0


@dataclass(frozen=True, kw_only=True)
class DateColumn(Column):
    """A uniform date (or, with_time, a UTC datetime) between two bounds, each an ISO date or
    relative to the anchor date (`-30y`, `today`)."""

    start: str
    end: str
    with_time: bool = False


@dataclass(frozen=True, kw_only=True)
class FakeColumn(Column):
    """A Faker provider: `pool` values are made once per column, rows draw from them."""

    provider: str
    args: Mapping[str, object] = field(default_factory=dict)
    locale: str = DEFAULT_LOCALE
    pool: int = DEFAULT_POOL


@dataclass(frozen=True, kw_only=True)
class TemplateColumn(Column):
    """A sandboxed template over the other generated columns of the row (and plan variables)."""

    template: str


@dataclass(frozen=True, kw_only=True)
class ParentColumn(Column):
    """A column of this row's parent (the row of the `per` step it was generated for)."""

    column: str


@dataclass(frozen=True, kw_only=True)
class RefColumn(Column):
    """A column of a row of another generated step, picked at random (uniformly)."""

    step: str
    column: str


_KIND_OF: dict[type, str] = {SeqColumn: "seq", ChoiceColumn: "choice", NumberColumn: "number",
                             DateColumn: "date", FakeColumn: "fake", TemplateColumn: "template",
                             ParentColumn: "parent", RefColumn: "ref"}


@dataclass(frozen=True)
class ChildCount:
    """How many children each parent row gets: one of `counts`, drawn with `weights`."""

    counts: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def mean(self) -> float:
        total = sum(self.weights)
        return sum(c * w for c, w in zip(self.counts, self.weights, strict=True)) / total if total else 0.0

    def describe(self) -> str:
        if len(set(self.weights)) == 1 and self.counts == tuple(range(self.counts[0], self.counts[-1] + 1)):
            return f"{self.counts[0]}..{self.counts[-1]}" if len(self.counts) > 1 else str(self.counts[0])
        return ", ".join(f"{c}: {w:g}" for c, w in zip(self.counts, self.weights, strict=True))


@dataclass(frozen=True)
class GenerateSpec:
    """A generated source: `count` rows, or `children` rows per row of the generated step `per`."""

    step: str
    columns: tuple[Column, ...]
    count: int | None = None
    per: str | None = None
    children: ChildCount | None = None
    seed: int = 0
    locale: str = DEFAULT_LOCALE
    anchor: str = DEFAULT_ANCHOR
    location: Location = NOWHERE

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def display(self) -> str:
        """How rows of this source are named in rejects and results: `generate:Account` (row 17)."""
        return GENERATED_PREFIX + self.step

    def uses_relative_dates(self) -> bool:
        return any(isinstance(c, DateColumn) and (is_relative(c.start) or is_relative(c.end)) for c in self.columns)


@dataclass(frozen=True)
class MaskSpec:
    """How a field's value is replaced: deterministic (same input, same output, in every object and
    run) and keyed by a secret the plan never holds."""

    kind: str
    domain: str | None = None  # email: None keeps each address's own domain
    text: str = DEFAULT_REDACTION  # redact
    provider: str | None = None  # fake
    args: Mapping[str, object] = field(default_factory=dict)
    locale: str = DEFAULT_LOCALE
    pool: int = DEFAULT_POOL
    location: Location = NOWHERE

    def describe(self) -> str:
        """A few words for manifests and reports: `email (domain kept)`, `fake: company`."""
        if self.kind == "email":
            return "email (domain kept)" if self.domain is None else f"email (domain {self.domain})"
        if self.kind == "fake":
            return f"fake: {self.provider}"
        return self.kind


# --- dates ---------------------------------------------------------------------------------------


def is_relative(text: str) -> bool:
    return bool(_RELATIVE.match(text))


def relative_amounts(text: str) -> tuple[tuple[int, str], ...]:
    """`-1y +2d` -> ((-1, 'y'), (2, 'd')); `today`/`now` -> ()."""
    return tuple((int(n), unit) for n, unit in _AMOUNT.findall(text))


def parse_absolute(text: str) -> datetime | None:
    """An ISO date or datetime (naive ones are UTC), or None."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def valid_bound(text: str) -> bool:
    return is_relative(text) or parse_absolute(text) is not None
