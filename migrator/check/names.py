"""Object and field names against a known schema, offline: what `validate` and `plan` can tell
without asking the org (`migrator check` asks it).

The schema is the bundled standard objects plus the target's schema files. When it is all the
target has (a local org), every standard name it does not know is refused, since the load would
fail. For a Salesforce org it is a partial list, so only a name that looks like a typo of a known
object (and is not one of Salesforce's other standard objects) is refused. Custom names (`__c`,
`__mdt`, ...) are never refused here: the schema files need not describe them all.
"""

from __future__ import annotations

from migrator.check.schema import ObjectInfo, TargetSchema
from migrator.check.snapshot import bundled_schema, load_schema_files
from migrator.config import Target
from migrator.plan.checks import PlanCheck, PlanContext
from migrator.plan.model import ObjectSpec
from migrator.plan.suggest import closest

# Standard objects of a Salesforce org besides those the local org bundles: a name close to a
# bundled one (Contract, Contact) is not a typo when it is one of these.
OTHER_STANDARD_OBJECTS = frozenset({
    "AccountContactRelation", "AccountTeamMember", "Asset", "AssetRelationship", "AssignedResource",
    "CaseComment", "CaseContactRole", "CaseTeamMember", "CollaborationGroup", "Contract", "ContractContactRole",
    "ContractLineItem", "ContentDocumentLink", "DuplicateRecordSet", "EmailMessage", "EmailTemplate",
    "Entitlement", "Idea", "Individual", "Location", "Macro", "Note", "OpportunityContactRole",
    "OpportunityLineItem", "OpportunityTeamMember", "Order", "OrderItem", "Organization", "Partner",
    "PermissionSet", "PermissionSetAssignment", "Profile", "Queue", "QueueSobject", "Quote", "QuoteLineItem",
    "ServiceAppointment", "ServiceContract", "ServiceResource", "Solution", "Territory", "Topic",
    "TopicAssignment", "UserRole", "WorkOrder", "WorkOrderLineItem", "WorkType",
})


def is_custom(name: str) -> bool:
    """`Project__c`, `ns__Thing__mdt`, `Legacy_Id__c`: names only the org's own metadata describes."""
    return "__" in name


class NameCheck:
    """A `PlanCheck`: every object and field name of the plan against `schema`."""

    def __init__(self, schema: TargetSchema, *, complete: bool):
        self.schema, self.complete = schema, complete

    def __call__(self, ctx: PlanContext) -> None:
        for index, step in ctx.steps:  # what a schema problem cut out (ctx.flaws) is not judged again
            if ctx.flaws.touches(("objects", index, "object")):
                continue
            obj = self._object(ctx, ("objects", index, "object"), step.object)
            if obj is not None and self.complete:
                self._fields(ctx, index, step, obj)
            for lookup in step.lookups:
                if ctx.flaws.touches(("objects", index, "lookups", lookup.field)):
                    continue
                raw_to = ctx.raw_step(index)["lookups"][lookup.field]["to"]
                for position, target in enumerate(lookup.targets):
                    path = ("objects", index, "lookups", lookup.field, "to")
                    self._object(ctx, path if isinstance(raw_to, str) else (*path, position), target)

    def _object(self, ctx: PlanContext, path: tuple, name: str) -> ObjectInfo | None:
        obj = self.schema.get(name)
        if obj is not None or is_custom(name):
            return obj
        guess = closest(name, self.schema.names())
        if self.complete or (guess is not None and name not in OTHER_STANDARD_OBJECTS):
            message = (f"the target has no object {name!r}" if self.complete
                       else f"{name!r} is not a standard object (custom object names end in __c)")
            ctx.add(path, message, hint=f"did you mean {guess!r}?" if guess else None)
        return None

    def _fields(self, ctx: PlanContext, index: int, step: ObjectSpec, obj: ObjectInfo) -> None:
        here = ("objects", index)
        names = [((*here, "fields", f.name), f.name) for f in step.fields]
        names += [((*here, "lookups", lk.field), lk.field) for lk in step.lookups]
        if step.external_id and step.external_id not in {f.name for f in step.fields} \
                and not ctx.flaws.setting_cut(index, ctx.raw_step(index), "external_id"):
            names.append(((*here, "external_id"), step.external_id))
        for path, name in names:
            if is_custom(name) or obj.field(name) is not None or ctx.flaws.touches(path):
                continue
            guess = closest(name, obj.fields)
            ctx.add(path, f"{obj.name} has no field {name!r}", key=path[-2] in ("fields", "lookups"),
                    hint=f"did you mean {guess!r}?" if guess else None)


def name_check(schema: TargetSchema, *, complete: bool) -> PlanCheck:
    return NameCheck(schema, complete=complete)


def target_name_check(target: Target | None) -> PlanCheck:
    """Names against what `target` is known to have: a local org's schema exactly (its schema files
    on the bundled objects), or for a Salesforce org (or no target) the bundled standard objects."""
    if target is not None and target.kind == "local":
        return NameCheck(load_schema_files(target.local_schema_files), complete=True)
    return NameCheck(bundled_schema(), complete=False)
