"""Column-wise conversion of uploaded text into stored values, with Salesforce's per-field errors.

Every converter takes one whole column (a pyarrow string array) and returns the stored values, which
rows carry a value (an empty cell means "leave unchanged" on update and "not set" on insert; ``#N/A``
means null), and the rows that failed with their messages. Work is vectorised with pyarrow compute,
or done once per distinct value for types with few distinct values (dates, booleans, picklists).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .ids import normalize_id
from .orgschema import NUMBER_TYPES, FieldDef
from .rowerrors import row_error

NULL_TOKEN = "#N/A"
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
INT_PATTERN = r"^[+-]?[0-9]+$"
NUMBER_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:Z|T.*)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


@dataclass
class Converted:
    """One column after conversion. `values[i]` is meaningful only where `given[i]`."""

    values: np.ndarray  # object: stored value, None for null
    given: np.ndarray  # bool: the cell was not empty (a value or #N/A)
    error_rows: list[int] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)

    def fail(self, rows: np.ndarray, message_for: Callable[[int], str]) -> None:
        for row in np.flatnonzero(rows).tolist() if rows.dtype == bool else rows.tolist():
            self.error_rows.append(row)
            self.error_messages.append(message_for(row))


def _mask(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def label(f: FieldDef) -> str:
    return f.label or f.name


def type_error(f: FieldDef, value: str) -> str:
    return row_error("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{label(f)}: value not of required type: {value}", [f.name])


def convert_column(f: FieldDef, raw: pa.Array, id_prefixes: frozenset[str] = frozenset()) -> Converted:
    """Convert the text column `raw` for field `f`.

    `id_prefixes` are the key prefixes an Id in a lookup (or Id) column may have (empty: any).
    """
    empty = _mask(pc.equal(raw, ""))
    nulls = _mask(pc.equal(raw, NULL_TOKEN))
    given = ~empty
    kind = f.type
    if kind in ("boolean",):
        result = _by_distinct_value(raw, given & ~nulls, lambda v: _boolean(f, v))
        result.values[nulls] = 0  # a checkbox cannot be null: #N/A clears it to false
    elif kind in ("int", "long"):
        result = _integers(f, raw, given & ~nulls)
    elif kind in NUMBER_TYPES:
        result = _numbers(f, raw, given & ~nulls)
    elif kind == "date":
        result = _dates(f, raw, given & ~nulls)
    elif kind == "datetime":
        result = _by_distinct_value(raw, given & ~nulls, lambda v: _datetime(f, v))
    elif kind in ("reference", "id"):
        result = _by_distinct_value(raw, given & ~nulls, lambda v: _reference(f, v, id_prefixes))
    else:
        result = _text(f, raw, given & ~nulls)
    result.given = given
    if nulls.any() and kind != "boolean":
        result.values[nulls] = None
    return result


def _text(f: FieldDef, raw: pa.Array, check: np.ndarray) -> Converted:
    values = raw.to_numpy(zero_copy_only=False).astype(object, copy=False)
    result = Converted(values=values, given=check)
    if f.length:
        too_long = check & (pc.utf8_length(raw).to_numpy(zero_copy_only=False) > f.length)
        result.fail(too_long, lambda i: row_error(
            "STRING_TOO_LONG", f"{label(f)}: data value too large: {values[i]} (max length={f.length})", [f.name]))
    if f.type == "email":
        bad = check & ~_mask(pc.match_substring_regex(raw, EMAIL_PATTERN))
        result.fail(bad, lambda i: row_error("INVALID_EMAIL_ADDRESS",
                                             f"{label(f)}: invalid email address: {values[i]}", [f.name]))
    elif f.type == "picklist" and f.restricted_picklist:
        allowed = pa.array([p.value for p in f.picklist_values if p.active], pa.string())
        bad = check & ~_mask(pc.is_in(raw, value_set=allowed))
        result.fail(bad, lambda i: _bad_picklist(f, values[i]))
    elif f.type == "multipicklist":
        allowed_set = {p.value for p in f.picklist_values if p.active}
        multi = _by_distinct_value(raw, check, lambda v: _multipicklist(f, v, allowed_set))
        result.values = np.where(check, multi.values, values)
        result.error_rows += multi.error_rows
        result.error_messages += multi.error_messages
    return result


def _bad_picklist(f: FieldDef, value: str) -> str:
    return row_error("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                     f"{label(f)}: bad value for restricted picklist field: {value}", [f.name])


def _multipicklist(f: FieldDef, value: str, allowed: set[str]) -> tuple[object, str | None]:
    parts = [p.strip() for p in value.split(";") if p.strip()]
    if f.restricted_picklist:
        for part in parts:
            if part not in allowed:
                return None, _bad_picklist(f, part)
    return ";".join(dict.fromkeys(parts)), None


def _by_distinct_value(raw: pa.Array, check: np.ndarray,
                       convert: Callable[[str], tuple[object, str | None]]) -> Converted:
    """Convert each distinct value once and spread the results back over the rows."""
    values = np.full(len(raw), None, dtype=object)
    result = Converted(values=values, given=check)
    if not check.any():
        return result
    rows = np.flatnonzero(check)
    distinct = pc.unique(raw.take(pa.array(rows)))
    outcomes = [convert(v) for v in distinct.to_pylist()]
    converted = np.empty(len(outcomes), dtype=object)
    converted[:] = [value for value, _ in outcomes]
    errors = np.empty(len(outcomes), dtype=object)
    errors[:] = [error for _, error in outcomes]
    positions = pc.index_in(raw.take(pa.array(rows)), value_set=distinct).to_numpy(zero_copy_only=False)
    values[rows] = converted[positions]
    row_errors = errors[positions]
    failed = np.not_equal(row_errors, None)
    result.error_rows = rows[failed].tolist()
    result.error_messages = row_errors[failed].tolist()
    return result


def _boolean(f: FieldDef, value: str) -> tuple[object, str | None]:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return 1, None
    if lowered in _FALSE:
        return 0, None
    return None, type_error(f, value)


def _integers(f: FieldDef, raw: pa.Array, check: np.ndarray) -> Converted:
    values = np.full(len(raw), None, dtype=object)
    result = Converted(values=values, given=check)
    shaped = check & _mask(pc.match_substring_regex(raw, INT_PATTERN))
    result.fail(check & ~shaped, lambda i: type_error(f, raw[i].as_py()))
    digits = pc.utf8_length(pc.utf8_ltrim(raw, characters="+-0")).to_numpy(zero_copy_only=False)
    limit = f.precision or 18
    too_big = shaped & (digits > min(limit, 18))
    result.fail(too_big, lambda i: _out_of_range(f, raw[i].as_py()))
    fine = shaped & ~too_big
    if fine.any():
        rows = np.flatnonzero(fine)
        unsigned = pc.replace_substring_regex(raw.take(pa.array(rows)), r"^\+", "")  # Arrow refuses "+8"
        values[rows] = pc.cast(unsigned, pa.int64()).to_numpy(zero_copy_only=False).tolist()
    return result


def _out_of_range(f: FieldDef, value: str) -> str:
    return row_error("NUMBER_OUTSIDE_VALID_RANGE",
                     f"{label(f)}: value outside of valid range on numeric field: {value}", [f.name])


def _numbers(f: FieldDef, raw: pa.Array, check: np.ndarray) -> Converted:
    values = np.full(len(raw), None, dtype=object)
    result = Converted(values=values, given=check)
    shaped = check & _mask(pc.match_substring_regex(raw, NUMBER_PATTERN))
    result.fail(check & ~shaped, lambda i: type_error(f, raw[i].as_py()))
    if not shaped.any():
        return result
    rows = np.flatnonzero(shaped)
    numbers = pc.cast(raw.take(pa.array(rows)), pa.float64()).to_numpy(zero_copy_only=False)
    precision = f.precision or 18
    integer_digits = max(precision - f.scale, 0)
    too_big = ~np.isfinite(numbers) | (np.abs(numbers) >= 10.0**integer_digits)
    result.fail(rows[too_big], lambda i: _out_of_range(f, raw[i].as_py()))
    keep = rows[~too_big]
    values[keep] = _round_half_up(raw.take(pa.array(keep)), numbers[~too_big], f.scale).tolist()
    return result


def _round_half_up(text: pa.Array, numbers: np.ndarray, scale: int) -> np.ndarray:
    """Round to `scale` decimals half up, as Salesforce stores numbers; on the decimal text (12.345 ->
    12.35, which float rounding gets wrong), falling back to floats for exponent forms."""
    if len(text) == 0:
        return numbers
    try:
        exact = pc.cast(text, pa.decimal128(38, 18))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.round(numbers, scale)
    rounded = pc.round(exact, ndigits=scale, round_mode="half_towards_infinity")  # away from zero
    return pc.cast(rounded, pa.float64()).to_numpy(zero_copy_only=False)


def _dates(f: FieldDef, raw: pa.Array, check: np.ndarray) -> Converted:
    """Canonical ``YYYY-MM-DD`` values are checked in one vectorised pass; the rest one by one."""
    canonical = _mask(pc.match_substring_regex(raw, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    text = pc.if_else(pa.array(canonical), raw, "1970-01-01")

    def part(start: int, stop: int) -> np.ndarray:
        return pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int32()).to_numpy(zero_copy_only=False)

    year, month, day = part(0, 4), part(5, 7), part(8, 10)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    month_days = month_days + ((month == 2) & leap)
    fine = check & canonical & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    result = _by_distinct_value(raw, check & ~fine, lambda v: _date(f, v))
    result.values[fine] = raw.filter(pa.array(fine)).to_numpy(zero_copy_only=False)
    return result


def _date(f: FieldDef, value: str) -> tuple[object, str | None]:
    match = _DATE.fullmatch(value.strip())
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat(), None
        except ValueError:
            pass
    return None, type_error(f, value)


def parse_datetime(value: str) -> str | None:
    """Stored form (UTC, ``...SSSZ``) of a Bulk API dateTime; a bare date means midnight UTC."""
    text = value.strip()
    if not _DATETIME.fullmatch(text):
        return None
    if len(text) > 10 and text[-5] in "+-" and text[-4:].isdigit():  # +0530 -> +05:30
        text = text[:-2] + ":" + text[-2:]
    elif len(text) > 10 and text[-3] in "+-" and text[-2:].isdigit() and text[-6] != "T":  # +05 -> +05:00
        text += ":00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _datetime(f: FieldDef, value: str) -> tuple[object, str | None]:
    stored = parse_datetime(value)
    return (stored, None) if stored is not None else (None, type_error(f, value))


def _reference(f: FieldDef, value: str, prefixes: frozenset[str]) -> tuple[object, str | None]:
    """Format and key prefix of an Id put straight into a lookup (existence is checked later)."""
    record_id = normalize_id(value.strip())
    if record_id is None or (prefixes and record_id[:3] not in prefixes):
        return None, row_error("MALFORMED_ID", f"{label(f)}: id value of incorrect type: {value}", [f.name])
    return record_id, None
