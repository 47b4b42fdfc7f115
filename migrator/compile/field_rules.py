"""What the target accepts in each field, checked on the values about to be sent.

The check stage reads these rules from the target's describe (or a snapshot) and hands them to
the compiler, which applies them right after a field's conversion: a value too long, a number
with more digits or decimals than the field keeps (cents sent to a currency field of scale 0 are
refused rather than silently rounded), a value outside a restricted picklist (each item of a
multi-select), a malformed email, phone or URL, a date outside Salesforce's range. A row that
breaks a rule is a reject before sending, with the field, the value and the reason, like every
other reject. Record type DeveloperNames are turned into record type Ids here too.

Pure and vectorised: each rule is a handful of pandas string operations over the whole column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.compile.convert import CLEAR, MAX_YEAR, MIN_YEAR, Converted, on_distinct

# Patterns are RE2-friendly (pandas runs them in Arrow): no \s or \d.
_EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
_PHONE = r"\+?[0-9 ().\-/#*]*[0-9][0-9 ().\-/#*]*(?:[ ]*(?:x|ext\.?|#)[ ]*[0-9]+)?"
_URL = r"(?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^ \t\r\n/?#]+\.[^ \t\r\n/?#]+(?:[/?#][^ \t\r\n]*)?"
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATETIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
_ID = r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?"
BOOLEAN_WORDS = ("true", "false", "1", "0")
_IN_RANGE_DATE = r"(?:1[7-9][0-9]{2}|[23][0-9]{3}|4000)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"


@dataclass(frozen=True)
class FieldRule:
    """One field as the target defines it. `kind` is the family of its describe type: text, email,
    phone, url, picklist, multipicklist, number, integer, boolean, date, datetime or id."""

    field: str
    kind: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    allowed: tuple[str, ...] | None = None  # a restricted picklist's active values
    not_null: bool = False  # the org refuses to clear it (#N/A)
    required: bool = False  # every row creates a record (insert), which needs a value here


@dataclass(frozen=True)
class RecordTypes:
    """An object's record types: DeveloperName -> Id (None when only the names are known, as in a
    snapshot: names are then checked and kept)."""

    object: str
    ids: Mapping[str, str | None]

    def names(self) -> str:
        return ", ".join(sorted(self.ids)) or "none"


@dataclass(frozen=True)
class Users:
    """The target's users as `user:` fields name them: name (Username or Email, lower case) -> Id,
    with the plan's map of source names to target names and its default user. Resolution: the mapped
    name if the target has it, else the name itself, else the default, else a reject."""

    ids: Mapping[str, str]
    match: str = "username"
    map: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None


@dataclass(frozen=True)
class StepRules:
    """The rules for one plan step: by field name, the step object's record types, the target's users."""

    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    record_types: RecordTypes | None = None
    users: Users | None = None


def _where(mask: pd.Series, message: str | pd.Series, errors: pd.Series) -> pd.Series:
    """Set `message` where `mask` holds and no earlier problem was found."""
    hit = mask & (errors == "")
    return errors.mask(hit, message) if hit.any() else errors


def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values.to_numpy(dtype=object, na_value=""), pa.string())


def _digits(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Digits before and after the point of plain decimal text (sign and leading zeros ignored)."""
    unsigned = pc.replace_substring_regex(_arrow(values), r"^[+-]", "")
    whole = pc.utf8_ltrim(pc.replace_substring_regex(unsigned, r"\..*$", ""), "0")
    fraction = pc.utf8_rtrim(pc.replace_substring_regex(unsigned, r"^[^.]*\.?", ""), "0")

    def count(array: pa.Array) -> pd.Series:
        return pd.Series(pc.utf8_length(array).to_numpy(zero_copy_only=False), index=values.index)

    return count(whole), count(fraction)


def _number(values: pd.Series, rule: FieldRule, errors: pd.Series) -> pd.Series:
    plain = values.str.fullmatch(_NUMBER)
    errors = _where(~plain, "not a number", errors)
    whole, fraction = _digits(values.where(plain, "0"))
    scale = rule.scale or 0
    if rule.kind == "integer":
        errors = _where(plain & (fraction > 0), "not a whole number", errors)
    else:
        message = (fraction.astype(str) + f" decimal places, but {rule.field} keeps {scale} (the org would round it)"
                   if scale else f"has decimals, but {rule.field} keeps whole numbers (the org would round it)")
        errors = _where(plain & (fraction > scale), message, errors)
    if rule.precision:
        room = rule.precision - (0 if rule.kind == "integer" else scale)
        errors = _where(plain & (whole > room),
                        f"too many digits: {rule.field} holds at most {room} before the decimal point", errors)
    return errors


def _in_range(values: pd.Series, pattern: str, what: str, errors: pd.Series) -> pd.Series:
    shaped = values.str.fullmatch(pattern)
    errors = _where(~shaped, f"not a {what} (expected ISO 8601)", errors)
    text = pc.if_else(pa.array(shaped.to_numpy(dtype=bool)), _arrow(values), "2000-01-01")

    def number(start: int, stop: int) -> pd.Series:
        digits = pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int32())
        return pd.Series(digits.to_numpy(zero_copy_only=False), index=values.index)

    years, months, days = number(0, 4), number(5, 7), number(8, 10)
    impossible = shaped & ((months < 1) | (months > 12) | (days < 1) | (days > 31))
    errors = _where(impossible, f"not a {what} (expected ISO 8601)", errors)
    outside = shaped & ((years < MIN_YEAR) | (years > MAX_YEAR))
    return _where(outside, f"{what} outside Salesforce's range {MIN_YEAR}-01-01..{MAX_YEAR}-12-31", errors)


def _picklist(values: pd.Series, rule: FieldRule, errors: pd.Series) -> pd.Series:
    allowed = rule.allowed or ()
    shown = ", ".join(allowed[:10]) + (f", ... ({len(allowed)} values)" if len(allowed) > 10 else "")
    if rule.kind == "multipicklist":
        items = values.str.split(";").explode().str.strip()
        bad_items = items[(items != "") & ~items.isin(allowed)]
        bad = pd.Series(values.index.isin(bad_items.index), index=values.index)
        first = bad_items.groupby(level=0).first().reindex(values.index).fillna("")
        message = "'" + first + f"' is not a value of the restricted picklist {rule.field} (values: {shown})"
        return _where(bad, message, errors)
    bad = ~values.isin(allowed)
    return _where(bad, "'" + values + f"' is not a value of the restricted picklist {rule.field} (values: {shown})",
                  errors)


def check_values(values: pd.Series, rule: FieldRule) -> pd.Series:
    """The reason each value breaks `rule` ('' where it does not). A blank is not sent (it leaves the
    field as it is), so only `required` refuses it; #N/A clears the field, which `not_null` refuses.
    Values that plainly pass (one regular expression) are not looked at again; in columns whose
    values repeat (picklists, dates, flags) each distinct value is checked once."""
    if rule.kind in REPEATING_KINDS:
        return on_distinct(values, lambda distinct: Converted(distinct, _check(distinct, rule))).errors
    return _check(values, rule)


REPEATING_KINDS = frozenset({"picklist", "multipicklist", "date", "datetime", "boolean"})


def _plainly_fine(values: pd.Series, rule: FieldRule) -> pd.Series | None:
    """Values that obviously meet a number or date rule, by one pattern (None: no such shortcut)."""
    if rule.kind in ("number", "integer"):
        scale = 0 if rule.kind == "integer" else (rule.scale or 0)
        whole = f"{{0,{rule.precision - scale}}}" if rule.precision else "*"
        decimals = f"(?:\\.[0-9]{{0,{scale}}}0*)?" if scale else "(?:\\.0*)?"
        return values.str.fullmatch(f"[+-]?0*[0-9]{whole}{decimals}") & (values != "") & (values != ".")
    if rule.kind == "date":
        return values.str.fullmatch(_IN_RANGE_DATE)
    return None


def _check(values: pd.Series, rule: FieldRule) -> pd.Series:
    errors = pd.Series("", index=values.index, dtype="str")
    if rule.required:
        errors = _where(values == "", f"{rule.field} is required on create, and this row creates a record", errors)
    if rule.not_null or rule.required:
        errors = _where(values == CLEAR, f"{rule.field} is required: the org refuses to clear it (#N/A)", errors)
    present = (values != "") & (values != CLEAR)
    fine = _plainly_fine(values, rule)
    if fine is not None:
        present &= ~fine
    if not present.any():
        return errors
    given = values[present]
    found = errors[present]
    kind = rule.kind
    if kind in ("number", "integer"):
        found = _number(given, rule, found)
    elif kind == "date":
        found = _in_range(given, _DATE, "date", found)
    elif kind == "datetime":
        found = _in_range(given, _DATETIME, "datetime", found)
    elif kind == "boolean":
        found = _where(~given.str.lower().isin(BOOLEAN_WORDS), "not a checkbox value (true or false)", found)
    elif kind == "id":
        found = _where(~given.str.fullmatch(_ID), "not a Salesforce record Id (15 or 18 characters)", found)
    else:
        if rule.max_length:
            lengths = given.str.len()
            message = lengths.astype(str) + f" characters, but {rule.field} takes at most {rule.max_length}"
            found = _where(lengths > rule.max_length, message, found)
        shapes = {"email": (_EMAIL, "not a valid email address"), "phone": (_PHONE, "not a phone number"),
                  "url": (_URL, "not a URL")}
        if kind in shapes:
            pattern, message = shapes[kind]
            found = _where(~given.str.fullmatch(pattern), message, found)
        if kind in ("picklist", "multipicklist") and rule.allowed is not None:
            found = _picklist(given, rule, found)
    errors[present] = found
    return errors


def resolve_record_types(values: pd.Series, record_types: RecordTypes) -> tuple[pd.Series, pd.Series]:
    """DeveloperNames -> record type Ids (names kept where Ids are unknown); errors for unknown names."""
    lowered = {name.lower(): (name, rid) for name, rid in record_types.ids.items()}
    present = values != ""
    keys = values.str.lower()
    known = keys.isin(list(lowered)) | ~present | (values == CLEAR)
    mapped = keys.map({k: (rid if rid is not None else name) for k, (name, rid) in lowered.items()})
    out = values.where(~present | (values == CLEAR), mapped.fillna(values)).astype("str")
    errors = pd.Series(np.where(known.to_numpy(), "", f"no record type with this DeveloperName on "
                                f"{record_types.object} (known: {record_types.names()})"), index=values.index)
    return out, errors.astype("str")


def resolve_users(values: pd.Series, users: Users) -> tuple[pd.Series, pd.Series]:
    """Usernames (or emails) -> user Ids in the target, through the plan's map, falling back to the
    default user; errors for names that resolve to no user. Done per distinct name."""
    ids = {name.lower(): uid for name, uid in users.ids.items()}
    mapped = {source.lower(): target.lower() for source, target in users.map.items()}
    default_id = ids.get(users.default.lower()) if users.default else None

    def resolve(distinct: pd.Series) -> Converted:
        lowered = distinct.str.lower()
        via_map = lowered.map(mapped).map(ids)
        found = via_map.fillna(lowered.map(ids))
        if default_id is not None:
            found = found.fillna(default_id)
        skip = (distinct == "") | (distinct == CLEAR)
        out = distinct.where(skip, found.fillna(distinct)).astype("str")
        if users.default and default_id is None:
            why = f"no user with this {users.match}, nor the default user {users.default}, in the target"
        else:
            why = f"no user with this {users.match} in the target (set users.default for such records)"
        bad = ~skip & found.isna()
        return Converted(out, pd.Series(np.where(bad.to_numpy(), why, ""), index=distinct.index).astype("str"))

    converted = on_distinct(values, resolve)
    return converted.values, converted.errors
