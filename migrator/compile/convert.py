"""Vectorised value conversions into the formats Bulk API accepts.

Every converter takes a Series of non-blank source strings and returns a `Converted` pair: the
converted values (as text, exactly as they will be written) and an error Series that is empty
("") where the value converted and otherwise says why it did not. No converter loops over rows
in Python: they lean on pandas' string methods and `to_datetime`, so a million values take
well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# What Bulk API reads as "set this field to null" (a blank leaves the field unchanged on update).
CLEAR = "#N/A"

# Salesforce accepts dates from 1700-01-01 to 4000-12-31.
MIN_YEAR, MAX_YEAR = 1700, 4000

TRUE_WORDS = ("true", "t", "yes", "y", "1", "on", "checked", "x")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off", "unchecked")

# Patterns are written for RE2 so pandas runs them in Arrow: no \s, \d or $ (pandas falls back to a
# per-row Python loop for those), and non-ASCII characters written as themselves, not escaped.
_WHITE = " \t\r\n\f\v\u00a0\u202f"
_OFFSET_SUFFIX = r"(?:[zZ]|[+-][0-9]{2}(?::?[0-9]{2})?)$"
_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_EMAIL = f"[^@{_WHITE}]+@[^@{_WHITE}]+\\.[^@{_WHITE}.]+"
_CURRENCY_AND_SPACES = f"[{_WHITE}$€£¥%]"


@dataclass(frozen=True)
class Converted:
    values: pd.Series
    errors: pd.Series

    @staticmethod
    def ok(values: pd.Series) -> Converted:
        return Converted(values, _no_errors(values))


def _no_errors(like: pd.Series) -> pd.Series:
    return pd.Series("", index=like.index, dtype="str")


def _errors_where(bad: pd.Series, message: pd.Series | str) -> pd.Series:
    errors = _no_errors(bad)
    if bad.any():
        errors = errors.mask(bad, message)
    return errors


def _arrow_text(series: pd.Series) -> pa.Array:
    return pa.array(series.to_numpy(dtype=object, na_value=""), pa.large_string())


def spread(distinct: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """`distinct.take(codes)` for text, done by Arrow (several times faster than numpy objects)."""
    taken = _arrow_text(distinct).take(pa.array(codes, pa.int64()))
    result = taken.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    return pd.Series(
        result.to_numpy() if not isinstance(result, pd.Series) else result.array, index=index, dtype="str"
    )


def on_distinct(values: pd.Series, convert: Callable[[pd.Series], Converted]) -> Converted:
    """Run `convert` once per distinct value and spread the results back over every row.

    Source columns repeat values heavily (dates, picklists, flags, amounts), so converting the
    distinct values only is usually several times cheaper than converting every row.
    """
    codes, uniques = pd.factorize(values)
    if len(uniques) > 0.7 * len(values):
        return convert(values)
    done = convert(pd.Series(uniques, dtype="str"))
    return Converted(spread(done.values, codes, values.index), spread(done.errors, codes, values.index))


def _describe_formats(formats: Sequence[str]) -> str:
    return ", ".join(repr(f) for f in formats) if formats else "ISO 8601"


def _parse_with_formats(values: pd.Series, formats: Sequence[str], *, utc: bool = False) -> pd.Series:
    """Try each format on the values still unparsed; ISO 8601 is always the last resort.

    Real data repeats dates a lot, so only the distinct values are parsed and the result is
    spread back with `take`: this is what makes a million dates cost a fraction of a second.
    """
    codes, uniques = pd.factorize(values)
    dtype = "datetime64[ms, UTC]" if utc else "datetime64[ms]"
    parsed = pd.Series(pd.NaT, index=pd.RangeIndex(len(uniques)), dtype=dtype)
    remaining = pd.Series(uniques, dtype="str")
    for fmt in (*formats, "ISO8601"):
        if remaining.empty:
            break
        attempt = pd.to_datetime(remaining, format=fmt, errors="coerce", utc=utc)
        hit = attempt.notna().to_numpy()
        if hit.any():
            parsed.iloc[remaining.index[hit]] = attempt[hit].astype(dtype)
            remaining = remaining[~hit]
    spread = parsed.take(codes) if len(codes) else parsed.iloc[:0]
    return pd.Series(spread.to_numpy(), index=values.index, dtype=dtype)


def _out_of_range(parsed: pd.Series) -> pd.Series:
    years = parsed.dt.year
    return parsed.notna() & ((years < MIN_YEAR) | (years > MAX_YEAR))


def _iso_text(parsed: pd.Series, unit: str) -> pd.Series:
    """Format datetimes with numpy's C formatter (pandas' strftime is per element Python)."""
    naive = parsed.dt.tz_convert(None) if parsed.dt.tz is not None else parsed
    text = np.datetime_as_string(naive.to_numpy(dtype="datetime64[ms]"), unit=unit)
    return pd.Series(text, index=parsed.index, dtype="str").mask(parsed.isna(), "")


def _to_date(values: pd.Series, formats: Sequence[str]) -> Converted:
    """Dates as ``YYYY-MM-DD``. Formats are strftime patterns tried in order."""
    parsed = _parse_with_formats(values, formats)
    bad = parsed.isna()
    errors = _errors_where(bad, f"not a date in format {_describe_formats(formats)}")
    too_far = _out_of_range(parsed)
    errors = errors.mask(too_far, f"date outside Salesforce's range {MIN_YEAR}-01-01..{MAX_YEAR}-12-31")
    return Converted(_iso_text(parsed, "D"), errors)


def _to_datetime(values: pd.Series, formats: Sequence[str], timezone: str) -> Converted:
    """Datetimes as ISO 8601 UTC with milliseconds and ``Z``.

    Values carrying an offset (``Z``, ``+02:00``) keep it; values without one are read in
    `timezone` (an IANA name). Local times that do not exist or are ambiguous because of a daylight
    saving change are errors rather than silent guesses.
    """
    has_offset = values.str.contains(_OFFSET_SUFFIX, regex=True)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ms, UTC]")
    errors = _no_errors(values)
    if has_offset.any():
        aware = _parse_with_formats(values[has_offset], formats, utc=True)
        parsed.loc[aware.index] = aware
    naive_values = values[~has_offset]
    if not naive_values.empty:
        naive = _parse_with_formats(naive_values, formats)
        try:
            local = naive.dt.tz_localize(ZoneInfo(timezone), ambiguous="NaT", nonexistent="NaT")
        except Exception as exc:  # pragma: no cover - the loader validates zone names
            raise ValueError(f"unknown time zone {timezone!r}") from exc
        gap = naive.notna() & local.isna()
        if gap.any():
            errors.loc[gap[gap].index] = (
                f"local time does not exist or is ambiguous in {timezone} (daylight saving change)"
            )
        parsed.loc[local.index] = local.dt.tz_convert("UTC")
    unparsed = parsed.isna() & (errors == "")
    errors = errors.mask(unparsed, f"not a datetime in format {_describe_formats(formats)}")
    errors = errors.mask(_out_of_range(parsed), f"datetime outside Salesforce's range {MIN_YEAR}..{MAX_YEAR}")
    text = _iso_text(parsed, "ms")
    return Converted(text.mask(text != "", text + "Z"), errors)


def _to_boolean(values: pd.Series) -> Converted:
    """``true``/``false`` from the usual spellings (yes/no, 1/0, y/n, on/off, x...)."""
    lowered = values.str.lower()
    is_true = lowered.isin(TRUE_WORDS)
    is_false = lowered.isin(FALSE_WORDS)
    out = pd.Series("", index=values.index, dtype="str").mask(is_true, "true").mask(is_false, "false")
    bad = ~(is_true | is_false)
    return Converted(out, _errors_where(bad, "not a boolean (use true/false, yes/no, 1/0)"))


def _to_number(values: pd.Series, decimal: str = ".", *, integer: bool = False) -> Converted:
    """Plain decimal text: thousands separators, currency signs and spaces removed.

    Accepts accounting negatives ``(1,234.50)``. With ``decimal=","`` the comma is the decimal
    separator and dots are thousands separators. The value stays text so that no precision is
    lost to floating point.
    """
    plain = values.str.fullmatch(r"-?[0-9]+(?:\.[0-9]+)?" if decimal == "." else r"-?[0-9]+")
    text = values.copy()
    if not plain.all():
        text[~plain] = _clean_number_text(values[~plain], decimal)
    valid = plain | text.str.fullmatch(_NUMBER)
    errors = _errors_where(~valid, "not a number")
    if integer:
        whole = text.str.fullmatch(r"[+-]?[0-9]+(?:\.0*)?")
        errors = errors.mask(valid & ~whole, "not a whole number")
        text = text.str.replace(r"\.0*$", "", regex=True)
    return Converted(text.where(errors == "", ""), errors)


def _clean_number_text(values: pd.Series, decimal: str) -> pd.Series:
    text = values.str.replace(_CURRENCY_AND_SPACES, "", regex=True)
    negative = text.str.fullmatch(r"\(.*\)")
    text = text.mask(negative, "-" + text.str.slice(1, -1))
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    return text.str.replace(r"^\+", "", regex=True)


def _canonical(values: pd.Series, allowed: Sequence[str], ignore_case: bool) -> tuple[pd.Series, pd.Series]:
    """Map values onto the allowed spelling; returns (canonical values, found mask)."""
    if ignore_case:
        lookup = {v.lower(): v for v in allowed}
        canonical = values.str.lower().map(lookup)
    else:
        canonical = values.where(values.isin(allowed))
    found = canonical.notna()
    return canonical.fillna("").astype("str"), found


def _allowed_text(allowed: Sequence[str]) -> str:
    shown = ", ".join(allowed[:10])
    return shown + (f", ... ({len(allowed)} values)" if len(allowed) > 10 else "")


def to_picklist(values: pd.Series, allowed: Sequence[str], ignore_case: bool) -> Converted:
    if not allowed:
        return Converted.ok(values)
    canonical, found = _canonical(values, allowed, ignore_case)
    errors = _errors_where(~found, f"not an allowed value ({_allowed_text(allowed)})")
    return Converted(canonical.where(found, ""), errors)


_ITEM_SEPARATOR = r"[ \t]*[;,][ \t]*"


def _items(values: pd.Series) -> pd.DataFrame:
    """The non-blank items of `;`-separated values (commas accepted too), trimmed: (row, value),
    where `row` is the position in `values`."""
    positions = pd.Series(np.arange(len(values)), index=values.index)
    exploded = values.str.split(_ITEM_SEPARATOR, regex=True).explode()
    parts = pd.DataFrame(
        {"row": positions.loc[exploded.index].to_numpy(), "value": exploded.astype("str").to_numpy()}
    )
    return parts[parts["value"] != ""]


def _join_items(parts: pd.DataFrame, like: pd.Series) -> pd.Series:
    """Items back into one `;`-joined value per row of `like` (rows without items become '')."""
    offsets = np.concatenate([[0], np.cumsum(np.bincount(parts["row"].to_numpy(), minlength=len(like)))])
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(parts["value"], pa.string()))
    return pd.Series(
        pc.binary_join(lists, ";").to_numpy(zero_copy_only=False), index=like.index, dtype="str"
    ).fillna("")


def to_multipicklist(values: pd.Series, allowed: Sequence[str], ignore_case: bool) -> Converted:
    """Values separated by ``;`` (commas accepted too), trimmed, de-duplicated, joined by ``;``."""
    parts = _items(values)
    bad = np.zeros(len(values), dtype=bool)
    if allowed:
        canonical, found = _canonical(parts["value"], allowed, ignore_case)
        bad[parts["row"].to_numpy()[~found.to_numpy()]] = True
        parts = parts.assign(value=canonical)[found.to_numpy()]
    parts = parts[~parts.duplicated()]
    joined = _join_items(parts, values)
    bad_rows = pd.Series(bad, index=values.index)
    errors = _errors_where(bad_rows, f"contains a value that is not allowed ({_allowed_text(allowed)})")
    return Converted(joined.where(~bad_rows, ""), errors)


def _to_email(values: pd.Series) -> Converted:
    valid = values.str.fullmatch(_EMAIL)
    return Converted(values.where(valid, ""), _errors_where(~valid, "not a valid email address"))


def apply_map(
    values: pd.Series, mapping: Mapping[str, str | None], *, ignore_case: bool, default: str | None,
    null: str = CLEAR,
) -> pd.Series:
    """Translate values through `mapping`; unlisted values become `default`, or stay as they are.

    A value mapped to None becomes `null`: `#N/A` by default, which clears the field in Salesforce
    (a blank would leave the old value in place on update).
    """
    if ignore_case:
        lowered = {str(k).lower(): (null if v is None else str(v)) for k, v in mapping.items()}
        mapped = values.str.lower().map(lowered)
    else:
        clean = {str(k): (null if v is None else str(v)) for k, v in mapping.items()}
        mapped = values.map(clean)
    fallback = values if default is None else pd.Series(default, index=values.index, dtype="str")
    return mapped.fillna(fallback).astype("str")


def apply_item_map(
    values: pd.Series, mapping: Mapping[str, str | None], *, ignore_case: bool, default: str | None
) -> pd.Series:
    """`apply_map` for multi-select picklists: each `;`-separated item is translated on its own.

    An item mapped to None is dropped; a value whose every item was dropped clears the field (#N/A).
    """
    parts = _items(values)
    if parts.empty:
        return values
    items = parts["value"].reset_index(drop=True)
    nulls = {str(k).lower() if ignore_case else str(k) for k, v in mapping.items() if v is None}
    dropped = (items.str.lower() if ignore_case else items).isin(nulls).to_numpy()
    mapped = apply_map(items, mapping, ignore_case=ignore_case, default=default)
    kept = parts.assign(value=mapped.to_numpy())[~dropped]
    joined = _join_items(kept, values)
    emptied = (joined == "") & (values.str.strip(" \t;,") != "")
    return joined.mask(emptied, CLEAR)


def to_date(values: pd.Series, formats: Sequence[str]) -> Converted:
    return on_distinct(values, lambda v: _to_date(v, formats))


def to_datetime(values: pd.Series, formats: Sequence[str], timezone: str) -> Converted:
    return on_distinct(values, lambda v: _to_datetime(v, formats, timezone))


def to_boolean(values: pd.Series) -> Converted:
    return on_distinct(values, _to_boolean)


def to_number(values: pd.Series, decimal: str = ".", *, integer: bool = False) -> Converted:
    return on_distinct(values, lambda v: _to_number(v, decimal, integer=integer))


def to_email(values: pd.Series) -> Converted:
    return on_distinct(values, _to_email)
