"""The target's schema as the compiler's row rules: what each mapped field accepts, per step.

Only fields the target has get a rule (an unknown field is a schema problem, reported once);
record type fields get the object's active record types instead, since their values are names.
"""

from __future__ import annotations

from migrator.check.schema import INTEGER_TYPES, NUMBER_TYPES, FieldInfo, ObjectInfo, TargetSchema
from migrator.compile.field_rules import FieldRule, RecordTypes, StepRules
from migrator.plan.model import DELETE_OPERATIONS, Plan

_KINDS = {"string": "text", "textarea": "text", "encryptedstring": "text", "combobox": "text", "email": "email",
          "phone": "phone", "url": "url", "picklist": "picklist", "multipicklist": "multipicklist",
          "boolean": "boolean", "date": "date", "datetime": "datetime", "reference": "id", "id": "id"}


def field_rule(info: FieldInfo, operation: str) -> FieldRule | None:
    """`operation` decides whether a blank is refused: an insert creates every row's record."""
    flags = {"not_null": not info.nillable and info.type != "boolean",
             "required": operation == "insert" and info.required_on_create}
    if info.type in NUMBER_TYPES:
        return FieldRule(info.name, "number", precision=info.precision or None, scale=info.scale, **flags)
    if info.type in INTEGER_TYPES:
        return FieldRule(info.name, "integer", precision=info.precision or None, scale=0, **flags)
    kind = _KINDS.get(info.type)
    if kind is None:
        return None
    allowed = info.active_values if info.restricted and kind in ("picklist", "multipicklist") else None
    length = info.length or None if kind not in ("id", "boolean") else None
    return FieldRule(info.name, kind, max_length=length, allowed=allowed, **flags)


def record_types(obj: ObjectInfo) -> RecordTypes:
    return RecordTypes(obj.name, {rt.developer_name: rt.id for rt in obj.record_types if rt.active})


def step_rules(plan: Plan, schema: TargetSchema) -> dict[str, StepRules]:
    """Per plan step name, the rules of the fields it maps (steps on objects the target lacks get none)."""
    rules: dict[str, StepRules] = {}
    for step in plan.objects:
        obj = schema.get(step.object)
        if obj is None or step.operation in DELETE_OPERATIONS:
            continue
        fields = {}
        for spec in step.fields:
            info = obj.field(spec.name)
            rule = field_rule(info, step.operation) if info is not None and not spec.record_type else None
            if rule is not None:
                fields[spec.name] = rule
        uses_record_types = any(spec.record_type for spec in step.fields)
        rules[step.name] = StepRules(fields=fields, record_types=record_types(obj) if uses_record_types else None)
    return rules
