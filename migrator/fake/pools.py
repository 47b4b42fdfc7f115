"""Faker value pools: a provider is called a fixed number of times, once, and rows draw from the
values by index. Faker is slow per call (tens of microseconds) and a pool of a thousand values is
made in a fraction of a second, so a million rows cost what a thousand do.

A pool is a pure function of (provider, arguments, locale, size, seed) and of Faker's own data,
so the installed Faker version is part of what makes a plan's bytes (the manifest records it).
Providers that read the clock (`date_of_birth`, `credit_card_expire`, ...) would make different
values tomorrow: they are refused, the known ones by name (Faker's date and time providers and a
few others) and any other by watching the provider's first calls for a read of the current time.
The date providers people reach for are translated into migrator's own anchored date draws instead
(`DATE_ALIASES`).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from functools import cache, lru_cache
from importlib import metadata
from typing import Any

import pyarrow as pa
from faker import Faker
from faker.config import AVAILABLE_LOCALES
from faker.providers import BaseProvider
from faker.providers.date_time import Provider as DateTimeProvider

# Providers known to read the clock, refused even when the watch cannot run (under a profiler), and
# those whose defaults captured the day Faker was imported (which the watch cannot see at all).
_CLOCK_FREE_DATE_PROVIDERS = frozenset({"century", "timezone", "pytimezone"})
_KNOWN_CLOCK_READERS = frozenset({"credit_card_expire", "credit_card_full", "profile", "simple_profile", "passport_dob",
                                  "passport_dates", "passport_full", "pesel", "businesses_ogrn", "individuals_ogrn"})
_WATCHED_CALLS = 20  # the first calls of a provider are watched for clock reads
_CLOCK_OWNERS = (dt.datetime, dt.date, time)
_CLOCK_NAMES = frozenset({"now", "today", "utcnow", "time", "time_ns"})

# Faker date providers -> (start parameter, its default, end parameter, its default, with time), as
# Faker documents them, drawn by migrator from the anchor date instead of today.
DATE_ALIASES: dict[str, tuple[str, str, str, str, bool]] = {
    "date_between": ("start_date", "-30y", "end_date", "today", False),
    "date_time_between": ("start_date", "-30y", "end_date", "now", True),
    "date_between_dates": ("date_start", "1970-01-01", "date_end", "today", False),
    "date_time_between_dates": ("datetime_start", "1970-01-01", "datetime_end", "now", True),
    "past_date": ("start_date", "-30d", "end_date", "-1d", False),
    "past_datetime": ("start_date", "-30d", "end_date", "now", True),
    "future_date": ("start_date", "+1d", "end_date", "+30d", False),
    "future_datetime": ("start_date", "now", "end_date", "+30d", True),
}


class ProviderError(Exception):
    """A provider that cannot make a pool: unknown, refused, or failing with its arguments."""


def faker_version() -> str:
    return metadata.version("faker")


def known_locales() -> tuple[str, ...]:
    return tuple(AVAILABLE_LOCALES)


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


@cache
def provider_names(locale: str) -> frozenset[str]:
    """The public provider methods of `locale` (not the Faker object's own machinery)."""
    names: set[str] = set()
    for provider in _faker(locale).get_providers():
        names |= {n for n in dir(provider) if not n.startswith("_") and callable(getattr(provider, n, None))}
    return frozenset(names)


def date_alias(provider: str, args: Mapping[str, object]) -> tuple[str, str, bool] | None:
    """(from, to, with_time) for a Faker date provider drawn from the anchor, or None for others.
    `date_of_birth(minimum_age, maximum_age)` is one too: born between max+1 years ago and min years ago."""
    if provider == "date_of_birth":
        unknown = set(args) - {"minimum_age", "maximum_age"}
        if unknown:
            raise ProviderError(f"date_of_birth takes minimum_age and maximum_age, not {', '.join(sorted(unknown))}")
        low, high = int(args.get("minimum_age", 0)), int(args.get("maximum_age", 115))  # type: ignore[call-overload]
        return f"-{high + 1}y +1d", f"-{low}y" if low else "today", False
    if provider not in DATE_ALIASES:
        return None
    start_name, start, end_name, end, with_time = DATE_ALIASES[provider]
    unknown = set(args) - {start_name, end_name}
    if unknown:
        raise ProviderError(f"{provider} takes {start_name} and {end_name}, not {', '.join(sorted(unknown))}")
    return _bound(args.get(start_name, start)), _bound(args.get(end_name, end)), with_time


def _bound(value: object) -> str:
    """Faker's date arguments as migrator bounds: an int is days from the anchor, as in Faker."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:+d}d"
    return str(value)


def text_of(value: object) -> str:
    """A provider's value as the text a CSV cell holds."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict | set | bytes | bytearray) or value is None:
        raise ProviderError(f"returns {type(value).__name__ if value is not None else 'nothing'}, not one value; "
                            "choose a provider that returns text, a number or a date")
    return str(value)


@contextmanager
def _clock_watch() -> Iterator[list[str]]:
    """Names of the clock functions called inside the block (by C calls such as datetime.now())."""
    reads: list[str] = []
    previous = sys.getprofile()
    if previous is not None:  # a profiler is running: it cannot be chained, so only the known list applies
        yield reads
        return

    def watch(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", None) in _CLOCK_NAMES \
                and getattr(arg, "__self__", None) in _CLOCK_OWNERS:
            reads.append(f"{getattr(arg.__self__, '__name__', '?')}.{arg.__name__}")

    sys.setprofile(watch)
    try:
        yield reads
    finally:
        sys.setprofile(None)


def _method(provider: str, locale: str) -> Callable[..., object]:
    if locale not in AVAILABLE_LOCALES:
        raise ProviderError(f"unknown Faker locale {locale!r}")
    if provider not in provider_names(locale):
        raise ProviderError(f"Faker has no provider {provider!r} in locale {locale}")
    if provider in _clock_readers():
        raise ProviderError(f"{provider} reads today's date, so a seeded plan would give other values tomorrow; "
                            "use a date column (relative to the anchor date) instead")
    return getattr(_faker(locale), provider)


@cache
def _clock_readers() -> frozenset[str]:
    """Faker's date and time providers (all count from now, but for a few) and the others known to."""
    dates = {n for n in dir(DateTimeProvider) if not n.startswith("_") and callable(getattr(DateTimeProvider, n))}
    base = {n for n in dir(BaseProvider) if not n.startswith("_")}
    return frozenset((dates - base - _CLOCK_FREE_DATE_PROVIDERS) | _KNOWN_CLOCK_READERS)


def _freeze(args: Mapping[str, object]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in args.items()))


def build_pool(provider: str, args: Mapping[str, object], locale: str, size: int, seed: int) -> tuple[str, ...]:
    """`size` values of the provider, the same for the same inputs (raises ProviderError)."""
    return _pool(provider, _freeze(args), locale, size, seed)


@lru_cache(maxsize=256)
def _pool(provider: str, frozen: tuple[tuple[str, Any], ...], locale: str, size: int, seed: int) -> tuple[str, ...]:
    method = _method(provider, locale)
    args = {k: list(v) if isinstance(v, tuple) else v for k, v in frozen}
    _faker(locale).seed_instance(seed)
    values: list[str] = []
    try:
        with _clock_watch() as reads:
            values += (text_of(method(**args)) for _ in range(min(size, _WATCHED_CALLS)))
        if reads:
            raise ProviderError(f"{provider} reads today's date ({reads[0]}), so a seeded plan would give other "
                                "values tomorrow; use a date column (relative to the anchor date) instead")
        values += (text_of(method(**args)) for _ in range(size - len(values)))
    except ProviderError:
        raise
    except Exception as exc:  # a provider's own complaint about its arguments
        raise ProviderError(f"{provider}({', '.join(f'{k}={v!r}' for k, v in args.items())}) failed: "
                            f"{type(exc).__name__}: {exc}") from None
    return tuple(values)


def pool_array(provider: str, args: Mapping[str, object], locale: str, size: int, seed: int) -> pa.Array:
    return _pool_array(provider, _freeze(args), locale, size, seed)


@lru_cache(maxsize=256)
def _pool_array(provider: str, frozen: tuple[tuple[str, Any], ...], locale: str, size: int, seed: int) -> pa.Array:
    return pa.array(_pool(provider, frozen, locale, size, seed), type=pa.string())
