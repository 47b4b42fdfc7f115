"""What only Faker can say about a plan: does each provider exist in its locale, accept its
arguments, give one value at a time, and leave the clock alone? Do the date ranges run forwards
from the anchor? Located problems, all at once, for `validate` and before `plan` reads a row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from migrator.errors import Problem, UsageError
from migrator.fake import dates
from migrator.fake.pools import ProviderError, build_pool, date_alias, known_locales, provider_names
from migrator.plan.fakespec import DateColumn, FakeColumn, GenerateSpec, MaskSpec
from migrator.plan.location import Location
from migrator.plan.model import Plan
from migrator.plan.suggest import did_you_mean

_CHECK_POOL = 20


def _problem(location: Location, message: str, hint: str | None = None) -> Problem:
    return Problem(message, file=location.file, line=location.line, path=location.path or None, hint=hint)


def _locale_problem(locale: str, location: Location) -> Problem | None:
    if locale in known_locales():
        return None
    return _problem(location, f"unknown Faker locale {locale!r}", did_you_mean(locale, known_locales()))


def _provider_problem(provider: str, args: Mapping[str, object], locale: str, location: Location) -> Problem | None:
    try:
        build_pool(provider, args, locale, _CHECK_POOL, 0)
    except ProviderError as exc:
        hint = did_you_mean(provider, provider_names(locale)) if "has no provider" in str(exc) else None
        return _problem(location, str(exc), hint)
    return None


def _date_problems(spec: GenerateSpec, variables: Mapping[str, str]) -> Iterator[Problem]:
    anchor = None
    for column in spec.columns:
        bounds = None
        if isinstance(column, DateColumn):
            bounds = (column.start, column.end)
        elif isinstance(column, FakeColumn):
            try:
                alias = date_alias(column.provider, column.args)
            except ProviderError as exc:
                yield _problem(column.location, str(exc))
                continue
            bounds = alias[:2] if alias else None
        if bounds is None:
            continue
        try:
            anchor = anchor or dates.anchor_of(spec, variables)
            first, last = (dates.resolve(b, anchor) for b in bounds)
        except UsageError:  # a missing anchor or a bad bound: the plan checks say which
            continue
        if first > last:
            yield _problem(column.location, f"the dates run backwards: from {bounds[0]} ({first:%Y-%m-%d}) is after "
                           f"to {bounds[1]} ({last:%Y-%m-%d})")


def _column_problems(spec: GenerateSpec) -> Iterator[Problem]:
    for column in spec.columns:
        if not isinstance(column, FakeColumn):
            continue
        locale = _locale_problem(column.locale, column.location)
        if locale is not None:
            yield locale
            continue
        try:
            if date_alias(column.provider, column.args) is not None:
                continue
        except ProviderError:
            continue  # reported with the dates
        problem = _provider_problem(column.provider, column.args, column.locale, column.location)
        if problem is not None:
            yield problem


def _mask_problems(mask: MaskSpec) -> Iterator[Problem]:
    locale = _locale_problem(mask.locale, mask.location)
    if locale is not None:
        yield locale
        return
    if mask.kind == "fake":
        problem = _provider_problem(str(mask.provider), mask.args, mask.locale, mask.location)
        if problem is not None:
            yield problem


def fake_problems(plan: Plan) -> list[Problem]:
    """Every Faker-level problem of the plan's generated sources and masks."""
    problems: list[Problem] = []
    for step in plan.objects:
        spec = step.source.generate
        if spec is not None:
            if (locale := _locale_problem(spec.locale, spec.location)) is not None:
                problems.append(locale)
            problems += _column_problems(spec)
            problems += _date_problems(spec, plan.variables)
        for field in step.fields:
            if field.mask is not None:
                problems += _mask_problems(field.mask)
    return list(dict.fromkeys(problems))


def uses_fake(plan: Plan) -> bool:
    return any(s.source.generate is not None or any(f.mask for f in s.fields) for s in plan.objects)


def masked_fields(plan: Plan) -> dict[str, dict[str, str]]:
    """step -> field -> what its mask does, for the manifest and the report."""
    return {s.name: {f.name: f.mask.describe() for f in s.fields if f.mask is not None}
            for s in plan.objects if any(f.mask for f in s.fields)}

