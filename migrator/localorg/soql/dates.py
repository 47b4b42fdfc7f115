"""Relative date literals (TODAY, LAST_N_DAYS:n, THIS_MONTH, ...) as half-open date ranges.

Each literal names a span of whole days [start, end). Comparisons against it follow Salesforce:
``= X`` means inside the span, ``< X`` before its start, ``> X`` after its end, and so on. Weeks start
on Sunday (the default US locale); fiscal periods are not supported. Ranges are computed from an
injectable ``today`` so tests can freeze the clock.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_UNITS = {"DAY": "day", "DAYS": "day", "WEEK": "week", "WEEKS": "week", "MONTH": "month",
          "MONTHS": "month", "QUARTER": "quarter", "QUARTERS": "quarter", "YEAR": "year", "YEARS": "year"}
_FIXED = {"TODAY": ("THIS", "day"), "YESTERDAY": ("LAST", "day"), "TOMORROW": ("NEXT", "day")}
_MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}


def is_date_literal(name: str) -> bool:
    return _shape(name.upper()) is not None


def needs_number(name: str) -> bool:
    shape = _shape(name.upper())
    return shape is not None and shape[0] in ("LAST_N", "NEXT_N", "N_AGO")


def date_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """[start, end) of the literal; ValueError when out of the calendar's range."""
    shape = _shape(name.upper())
    if shape is None:
        raise ValueError(f"unknown date literal {name}")
    kind, unit = shape
    if name.upper() in ("LAST_90_DAYS", "NEXT_90_DAYS"):
        n = 90
    n = n or 0
    try:
        if kind == "LAST_N" and unit == "day":  # Salesforce counts today in LAST_N_DAYS
            return today - timedelta(days=n), today + timedelta(days=1)
        offsets = {"THIS": (0, 1), "LAST": (-1, 0), "NEXT": (1, 2), "LAST_N": (-n, 0),
                   "NEXT_N": (1, n + 1), "N_AGO": (-n, -n + 1)}[kind]
        return _period_start(today, unit, offsets[0]), _period_start(today, unit, offsets[1])
    except (OverflowError, ValueError):
        raise ValueError(f"date literal {name} is out of range") from None


def _shape(name: str) -> tuple[str, str] | None:
    if name in _FIXED:
        return _FIXED[name]
    if name in ("LAST_90_DAYS", "NEXT_90_DAYS"):
        return ("LAST_N" if name.startswith("LAST") else "NEXT_N"), "day"
    m = re.fullmatch(r"(THIS|LAST|NEXT)_(WEEK|MONTH|QUARTER|YEAR)", name)
    if m:
        return m.group(1), _UNITS[m.group(2)]
    m = re.fullmatch(r"(LAST|NEXT)_N_(DAYS|WEEKS|MONTHS|QUARTERS|YEARS)", name)
    if m:
        return m.group(1) + "_N", _UNITS[m.group(2)]
    m = re.fullmatch(r"N_(DAYS|WEEKS|MONTHS|QUARTERS|YEARS)_AGO", name)
    if m:
        return "N_AGO", _UNITS[m.group(1)]
    return None


def _period_start(today: date, unit: str, periods: int) -> date:
    if unit == "day":
        return today + timedelta(days=periods)
    if unit == "week":
        sunday = today - timedelta(days=(today.weekday() + 1) % 7)
        return sunday + timedelta(weeks=periods)
    size = _MONTHS_PER[unit]
    month_index = today.year * 12 + today.month - 1
    aligned = month_index - month_index % size + periods * size
    return date(aligned // 12, aligned % 12 + 1, 1)
