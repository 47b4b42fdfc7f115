"""Source rows -> Bulk API rows, as pure vectorised DataFrame functions.

`compile_step` turns an `ObjectSpec` into a `StepLayout`: the output columns in plan order
(Id, fields, then relationship headers) and the compiled templates and filter. `transform_chunk`
applies it to one chunk of source rows (all text, blanks as ""), returning the rows to send and
the rows rejected with their reasons. Cross-chunk checks (duplicate keys, missing parents,
hierarchy levels) belong to the planner, which sees the whole step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.compile import convert
from migrator.compile.binary_files import resolves_document
from migrator.compile.field_rules import StepRules, check_values, resolve_record_types, resolve_users
from migrator.compile.linemap import may_hold
from migrator.plan.model import DELETE_OPERATIONS, FieldSpec, LookupSpec, ObjectSpec
from migrator.plan.templating import Template, compile_template
from migrator.plan.where import WhereFilter, compile_where

CLEAR = convert.CLEAR
MASKED = "(masked)"  # what rejects show instead of the real value of a masked field
Mask = Callable[[pd.Series], pd.Series]
_SALESFORCE_ID = r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$"
# Salesforce's longest text field (Long and Rich Text Area) holds 131,072 characters, and Bulk API
# takes at most 400,000 characters in one record: a longer value can only fail, so it is refused here.
MAX_FIELD_CHARS = 131_072
MAX_RECORD_CHARS = 400_000
RECORD = "(record)"  # the field name a reject about the whole record is filed under
NUL = "\x00"


@dataclass(frozen=True)
class LookupColumn:
    """One relationship header of a lookup; a polymorphic lookup with several targets has one per type."""

    header: str
    lookup: LookupSpec
    target: str
    key: str
    type_value: str | None  # the object name a row's type must resolve to, for multi-target lookups


@dataclass(frozen=True)
class StepLayout:
    spec: ObjectSpec
    id_header: str | None
    field_headers: tuple[str, ...]
    lookup_columns: tuple[LookupColumn, ...]
    templates: Mapping[str, Template]
    where: WhereFilter | None
    rules: StepRules | None = None  # what the target accepts, when it is known (check/, run)
    masks: Mapping[str, Mask] = field(default_factory=dict)  # field name -> its mask (see migrator.fake.masks)

    @property
    def columns(self) -> tuple[str, ...]:
        head = (self.id_header,) if self.id_header else ()
        return head + self.field_headers + tuple(c.header for c in self.lookup_columns)

    @property
    def key_header(self) -> str | None:
        """The column that identifies a row to Salesforce and to children: external id or Id."""
        if self.id_header and self.spec.operation in DELETE_OPERATIONS | {"update"}:
            return self.id_header
        return self.spec.external_id if self.spec.external_id in self.field_headers else self.id_header

    def lookup_headers(self, lookup: LookupSpec) -> tuple[str, ...]:
        return tuple(c.header for c in self.lookup_columns if c.lookup is lookup)


@dataclass(frozen=True)
class ChunkResult:
    rows: pd.DataFrame  # output columns, index = source positions of kept rows
    rejects: pd.DataFrame  # columns: field, value, reason; index = source positions
    filtered: int  # rows dropped by `where` (intended, not rejects)


def relationship_header(lookup: LookupSpec, target: str, key: str) -> str:
    """`Account.Legacy_Id__c`, `Parent_Account__r.Legacy_Id__c`, `Contact:Who.Legacy_Id__c`; a
    ContentDocumentId found by its ContentVersion's key is the field itself (resolved by the run)."""
    if resolves_document(lookup.field, target):
        return lookup.field
    base = f"{lookup.relationship_name}.{key}"
    if not lookup.polymorphic:
        return base
    return f"{target}:{base}"


def compile_step(spec: ObjectSpec, lookup_keys: Mapping[tuple[str, str], str],
                 rules: StepRules | None = None) -> StepLayout:
    """Fix the output layout of a step. `lookup_keys[(field, target)]` is the parent key field;
    `rules`, the target's, are checked on every value."""
    id_header = "Id" if spec.id_source else None
    columns = []
    for lookup in spec.lookups:
        many = len(lookup.targets) > 1
        for target in lookup.targets:
            key = lookup_keys[(lookup.field, target)]
            header = relationship_header(lookup, target, key)
            columns.append(
                LookupColumn(
                    header=header, lookup=lookup, target=target, key=key, type_value=target if many else None
                )
            )
    templates = {f.name: compile_template(f.template) for f in spec.fields if f.template is not None}
    where = compile_where(spec.where) if spec.where else None
    fields = () if spec.operation in DELETE_OPERATIONS else tuple(f.name for f in spec.fields)
    return StepLayout(
        spec=spec,
        id_header=id_header,
        field_headers=fields,
        lookup_columns=tuple(columns) if spec.operation not in DELETE_OPERATIONS else (),
        templates=templates,
        where=where,
        rules=rules,
    )


def _blank(index: pd.Index) -> pd.Series:
    return pd.Series("", index=index, dtype="str")


def _source_values(frame: pd.DataFrame, column: str, trim: bool) -> pd.Series:
    values = frame[column].astype("str").fillna("")
    return values.str.strip() if trim else values


def _field_raw(
    frame: pd.DataFrame, field: FieldSpec, layout: StepLayout, variables: Mapping[str, str]
) -> tuple[pd.Series, pd.Series]:
    if field.value is not None:
        return pd.Series(field.value, index=frame.index, dtype="str"), _blank(frame.index)
    if field.template is not None:
        values, errors = layout.templates[field.name].render_column(frame, variables)
        values = values.astype("str").fillna("")
        return (values.str.strip() if field.trim else values), errors.astype("str").fillna("")
    return _source_values(frame, field.source or field.name, field.trim), _blank(frame.index)


def _typed(values: pd.Series, field: FieldSpec) -> convert.Converted:
    if field.type == "date":
        return convert.to_date(values, field.formats)
    if field.type == "datetime":
        return convert.to_datetime(values, field.formats, field.timezone)
    if field.type == "boolean":
        return convert.to_boolean(values)
    if field.type in ("number", "integer"):
        return convert.to_number(values, field.decimal, integer=field.type == "integer")
    if field.type == "picklist":
        return convert.to_picklist(values, field.values, field.map_ignore_case)
    if field.type == "multipicklist":
        return convert.to_multipicklist(values, field.values, field.map_ignore_case)
    if field.type == "email":
        return convert.to_email(values)
    return convert.Converted.ok(values)


def convert_field(
    frame: pd.DataFrame, field: FieldSpec, layout: StepLayout, variables: Mapping[str, str]
) -> convert.Converted:
    """One field through the whole pipeline: raw -> map/default -> type -> mask -> length -> required -> null."""
    values, errors = _field_raw(frame, field, layout, variables)
    if field.value_map is not None:
        # a multi-select value is a list of items: each is mapped, as each is one picklist value
        mapper = convert.apply_item_map if field.type == "multipicklist" else convert.apply_map
        values = mapper(values, field.value_map, ignore_case=field.map_ignore_case, default=field.default)
    if field.default is not None:
        values = values.mask(values == "", field.default)
    rules = layout.rules
    if field.record_type and rules is not None and rules.record_types is not None:
        values, unknown = resolve_record_types(values, rules.record_types)
        errors = errors.mask((errors == "") & (unknown != ""), unknown)
    if field.user and rules is not None and rules.users is not None:
        values, unknown = resolve_users(values, rules.users)
        errors = errors.mask((errors == "") & (unknown != ""), unknown)
    clear = values == CLEAR
    convertible = (values != "") & ~clear & (errors == "")
    if field.type != "string" and convertible.any():
        typed = _typed(values[convertible], field)
        values = values.copy()
        values[convertible] = typed.values
        errors = errors.copy()
        errors[convertible] = typed.errors
    mask = layout.masks.get(field.name)
    if mask is not None:
        hidden = (values != "") & ~clear & (errors == "")
        if hidden.all():
            values = mask(values)
        elif hidden.any():
            values = values.copy()
            values[hidden] = mask(values[hidden])
    if field.truncate is not None:
        values = values.mask(~clear, values.str.slice(0, field.truncate))
    if field.max_length is not None:
        too_long = ~clear & (values.str.len() > field.max_length)
        errors = errors.mask(too_long & (errors == ""), f"longer than {field.max_length} characters")
    rule = rules.fields.get(field.name) if rules is not None else None
    if rule is not None:
        broken = check_values(values, rule)
        errors = errors.mask((errors == "") & (broken != ""), broken)
    blank = values == ""
    if field.required:
        missing = (blank | clear) & (errors == "")
        errors = errors.mask(missing, "required value is missing")
    if field.null == "clear":
        values = values.mask(blank, CLEAR)
    return convert.Converted(values, errors)


def _lookup_type(frame: pd.DataFrame, lookup: LookupSpec) -> pd.Series:
    """Each row's parent type as an object name ('' if blank, '?' + raw value if unknown)."""
    raw = _source_values(frame, lookup.type_source or "", True)
    names = {t.lower(): t for t in lookup.targets}
    for alias, target in (lookup.type_map or {}).items():
        names[str(alias).lower()] = target
    resolved = raw.str.lower().map(names)
    return resolved.fillna("?" + raw).mask(raw == "", "").astype("str")


def convert_lookup(
    frame: pd.DataFrame, lookup: LookupSpec, columns: tuple[LookupColumn, ...]
) -> tuple[dict[str, pd.Series], pd.Series]:
    """Parent keys into their relationship header(s); errors for rows whose type is unusable."""
    keys = _source_values(frame, lookup.source, True)
    if len(columns) == 1 and columns[0].type_value is None:
        return {columns[0].header: keys}, _blank(frame.index)
    types = _lookup_type(frame, lookup)
    has_key = keys != ""
    errors = _blank(frame.index)
    errors = errors.mask(has_key & (types == ""), f"no parent type in column {lookup.type_source!r}")
    unknown = has_key & types.str.startswith("?")
    allowed = ", ".join(lookup.targets)
    errors = errors.mask(unknown, "unknown parent type " + types.str.slice(1) + f" (expected {allowed})")
    out = {c.header: keys.where(types == c.type_value, "") for c in columns}
    return out, errors


def _collect(errors: dict[str, pd.Series], values: dict[str, pd.Series], index: pd.Index) -> pd.DataFrame:
    """One reject line per bad row: fields, values and reasons of every problem, joined by '; '."""
    bad_any = pd.Series(False, index=index)
    for err in errors.values():
        bad_any |= err != ""
    if not bad_any.any():
        return pd.DataFrame({"field": [], "value": [], "reason": []}, index=index[:0], dtype="str")
    rows = bad_any[bad_any].index
    field_parts, value_parts, reason_parts = [], [], []
    for name, err in errors.items():
        err = err.loc[rows]
        hit = err != ""
        field_parts.append(pd.Series(name, index=rows, dtype="str").where(hit, ""))
        value_parts.append(values[name].loc[rows].where(hit, ""))
        reason_parts.append(err)
    return pd.DataFrame(
        {
            "field": _join_nonblank(field_parts),
            "value": _join_nonblank(value_parts, field_parts),
            "reason": _join_nonblank(reason_parts),
        },
        index=rows,
    )


def _join_nonblank(parts: list[pd.Series], guide: list[pd.Series] | None = None) -> pd.Series:
    """Join Series element-wise with '; ', skipping blanks (or positions where `guide` is blank)."""
    out = None
    for i, part in enumerate(parts):
        present = (guide[i] if guide is not None else part) != ""
        piece = part.where(present, "")
        if out is None:
            out = piece
            seen = present
        else:
            sep = pd.Series("; ", index=part.index, dtype="str").where(seen & present, "")
            out = out + sep + piece
            seen = seen | present
    return out if out is not None else pd.Series(dtype="str")


def _owners(layout: StepLayout) -> dict[str, str]:
    """Output column -> the field its problems are reported under (a lookup's headers: the lookup)."""
    owners = {name: name for name in layout.field_headers}
    owners.update({c.header: c.lookup.field for c in layout.lookup_columns})
    if layout.id_header:
        owners[layout.id_header] = "Id"
    return owners


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    arrow = pa.array(values)  # zero copy for Arrow-backed text
    return arrow if isinstance(arrow, pa.ChunkedArray) else pa.chunked_array([arrow])


def _refuse_unsendable(out: dict[str, pd.Series], errors: dict[str, pd.Series], raw: dict[str, pd.Series],
                       owners: Mapping[str, str], index: pd.Index) -> None:
    """Values Salesforce cannot take, whatever the field: a NUL byte (it cannot be stored, and
    stripping it silently would change the data) and text over Salesforce's length limits.

    Byte lengths and a scan of the data buffers answer for almost every chunk at memory speed;
    characters are counted only where a value has more bytes than a field may have characters."""
    total = np.zeros(len(index), dtype=np.int64)
    field_too_long = np.zeros(len(index), dtype=bool)
    for header, values in out.items():
        arrow = _arrow(values)
        lengths = pc.fill_null(pc.binary_length(arrow), 0).to_numpy()
        total += lengths
        nul = np.zeros(len(index), dtype=bool)
        if any(may_hold(chunk, NUL.encode()) for chunk in arrow.chunks):
            nul = pc.fill_null(pc.match_substring(arrow, NUL), False).to_numpy(zero_copy_only=False)
        too_long = np.zeros(len(index), dtype=bool)
        if len(lengths) and lengths.max() > MAX_FIELD_CHARS:
            too_long = pc.fill_null(pc.utf8_length(arrow), 0).to_numpy() > MAX_FIELD_CHARS
        field_too_long |= too_long
        if nul.any() or too_long.any():
            owner = owners.get(header, header)
            clean = (errors[owner] == "").to_numpy()
            reason = np.where(nul, "contains a NUL byte (\\x00), which Salesforce cannot store; remove it "
                              "from the source", f"longer than {MAX_FIELD_CHARS:,} characters, the most a "
                              "Salesforce field holds")
            errors[owner] = errors[owner].mask(pd.Series((nul | too_long) & clean, index=index),
                                               pd.Series(reason, index=index, dtype="str"))
    over = (total > MAX_RECORD_CHARS) & ~field_too_long  # a field over its limit already says why
    if over.any():
        characters = sum(pc.fill_null(pc.utf8_length(_arrow(v)), 0).to_numpy() for v in out.values())
        over &= characters > MAX_RECORD_CHARS
    if over.any():
        errors[RECORD] = pd.Series("", index=index, dtype="str").mask(
            pd.Series(over, index=index), f"longer than {MAX_RECORD_CHARS:,} characters in all, the most Bulk "
            "API takes in one record")
        raw[RECORD] = pd.Series("", index=index, dtype="str")


def transform_chunk(frame: pd.DataFrame, layout: StepLayout, variables: Mapping[str, str]) -> ChunkResult:
    """Apply a step's filter, field specs and lookups to one chunk of source rows."""
    spec = layout.spec
    filtered = 0
    if layout.where is not None:
        keep = layout.where.mask(frame, variables)
        filtered = int((~keep).sum())
        frame = frame[keep.to_numpy()]
    out: dict[str, pd.Series] = {}
    errors: dict[str, pd.Series] = {}
    raw: dict[str, pd.Series] = {}
    if layout.id_header:
        ids = _source_values(frame, spec.id_source or "", True)
        out["Id"], raw["Id"] = ids, ids
        bad_id = (ids == "") | ~ids.str.match(_SALESFORCE_ID)
        errors["Id"] = _blank(frame.index).mask(bad_id, "not a Salesforce record Id (15 or 18 characters)")
    if spec.operation not in DELETE_OPERATIONS:
        for field in spec.fields:
            result = convert_field(frame, field, layout, variables)
            out[field.name], errors[field.name] = result.values, result.errors
            raw[field.name] = _source_values(frame, field.source, False) if field.source else result.values
            if field.name in layout.masks:  # rejects never show the real value of a masked field
                raw[field.name] = pd.Series(MASKED, index=frame.index, dtype="str")
        for lookup in spec.lookups:
            columns = tuple(c for c in layout.lookup_columns if c.lookup is lookup)
            values, lookup_errors = convert_lookup(frame, lookup, columns)
            out.update(values)
            errors[lookup.field] = lookup_errors
            raw[lookup.field] = _source_values(frame, lookup.source, False)
    _refuse_unsendable(out, errors, raw, _owners(layout), frame.index)
    rejects = _collect(errors, raw, frame.index)
    rows = pd.DataFrame(out, index=frame.index, columns=list(layout.columns))
    if not rejects.empty:
        rows = rows.drop(index=rejects.index)
    return ChunkResult(rows=rows, rejects=rejects, filtered=filtered)
