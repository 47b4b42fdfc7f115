"""Dates relative to an anchor, so that "today" is the same on every machine and every day.

A generated plan names its anchor date in a plan variable (`today: "2026-01-15"` by default, or
`--var today=...`); `-30y`, `+2w` or `today` count from it, by the calendar (a month after
January 31 is the last day of February). Draws are whole days for dates and whole seconds for
datetimes, formatted as Bulk API writes them: `YYYY-MM-DD` and `YYYY-MM-DDTHH:MM:SSZ`.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from migrator.errors import UsageError
from migrator.fake.draws import Stream
from migrator.plan.fakespec import GenerateSpec, is_relative, parse_absolute, relative_amounts

_EPOCH = datetime(1970, 1, 1)
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def anchor_of(spec: GenerateSpec, variables: Mapping[str, str]) -> datetime:
    """The anchor of a generated source; the plan checks have already said so if it is missing."""
    text = variables.get(spec.anchor)
    moment = parse_absolute(str(text)) if text is not None else None
    if moment is None:
        raise UsageError(f"{spec.location}: {spec.step}: relative dates need the anchor date in the plan "
                         f"variable {spec.anchor!r} (an ISO date such as 2026-01-15)")
    return moment


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def resolve(text: str, anchor: datetime | None) -> datetime:
    """An ISO date/datetime as it is, or a relative one counted from `anchor` (`now` is the anchor
    itself, `today` its midnight)."""
    absolute = parse_absolute(text)
    if absolute is not None:
        return absolute
    if anchor is None or not is_relative(text):
        raise UsageError(f"{text!r} is neither an ISO date nor a date relative to the anchor")
    moment = anchor if text.strip() == "now" else datetime(anchor.year, anchor.month, anchor.day)
    for amount, unit in relative_amounts(text):
        if unit == "d":
            moment += timedelta(days=amount)
        elif unit == "w":
            moment += timedelta(weeks=amount)
        else:
            moment = _add_months(moment, amount * (12 if unit == "y" else 1))
    return moment


def as_date(value: date | datetime) -> datetime:
    return datetime(value.year, value.month, value.day)


def draw_dates(stream: Stream, rows: np.ndarray, start: datetime, end: datetime, *, with_time: bool) -> pa.Array:
    """A uniform date (or second) in start..end, both included, for each row, as Bulk API text."""
    if with_time:
        first, last = int((start - _EPOCH).total_seconds()), int((end - _EPOCH).total_seconds())
        seconds = first + stream.below(rows, last - first + 1)
        stamps = pa.array(seconds, type=pa.int64()).cast(pa.timestamp("s"))
        return pc.strftime(stamps, format=DATETIME_FORMAT)
    first, last = (as_date(start) - _EPOCH).days, (as_date(end) - _EPOCH).days
    days = (first + stream.below(rows, last - first + 1)).astype(np.int32)
    return pa.array(days, type=pa.date32()).cast(pa.string())
