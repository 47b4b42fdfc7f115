"""sObject describe JSON built from the org schema, shaped like Salesforce's (reference §8)."""

from __future__ import annotations

from typing import Any

from .orgschema import NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef, OrgSchema, child_relationship_name

SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "long": "xsd:long",
              "time": "xsd:time", "anyType": "xsd:anyType",
              "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
              "datetime": "xsd:dateTime", "base64": "xsd:base64Binary"}
MASTER_RECORD_TYPE = "012000000000000AAA"


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _person_name(obj: ObjectDef) -> FieldDef | None:
    """Contact, Lead and User have a read-only compound Name ("First Last") the store does not keep."""
    if obj.field("Name") is None and obj.field("LastName") is not None:
        return FieldDef(name="Name", type="string", label="Full Name", length=121, createable=False,
                        updateable=False, nillable=True)
    return None


def _default_formula(f: FieldDef) -> str | None:
    """A default other than a checkbox's or a picklist's, as Salesforce shows it: a formula literal."""
    if f.default_value is None or f.type in ("boolean", "picklist"):
        return None
    value = f.default_value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def field_describe(f: FieldDef) -> dict[str, Any]:
    text = f.type in TEXT_TYPES and f.type not in ("id", "reference")
    default = f.default_value
    if f.type == "boolean":
        default = bool(default) if not isinstance(default, str) else default.lower() in ("true", "1")
    return {
        "aggregatable": f.type not in ("textarea", "base64"),
        "autoNumber": f.auto_number,
        "byteLength": f.length * 3 if text or f.type in ("id", "reference") else 0,
        "calculated": f.calculated,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": f.case_sensitive,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": default if f.type == "boolean" or f.type in ("picklist",) else None,
        "defaultValueFormula": _default_formula(f),
        "defaultedOnCreate": f.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.precision if f.type in ("int", "long") else 0,
        "externalId": f.external_id,
        "filterable": f.type != "textarea",
        "groupable": f.type not in NUMBER_TYPES and f.type not in ("textarea", "datetime", "base64"),
        "idLookup": f.id_lookup,
        "label": f.label or f.name,
        "length": f.length if text or f.type in ("id", "reference") else 0,
        "name": f.name,
        "nameField": f.name == "Name",
        "nillable": f.nillable,
        "permissionable": f.custom,
        "picklistValues": [{"active": p.active, "defaultValue": p.default or p.value == f.default_value,
                            "label": p.label, "validFor": None, "value": p.value} for p in f.picklist_values],
        "polymorphicForeignKey": f.polymorphic,
        "precision": f.precision if f.type in NUMBER_TYPES else 0,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "restrictedPicklist": f.restricted_picklist,
        "scale": f.scale if f.type in NUMBER_TYPES else 0,
        "soapType": SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type not in ("textarea", "multipicklist", "base64"),
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
    }


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    """The global-describe entry of an object (``GET /sobjects``)."""
    return {"activateable": False, "createable": obj.createable, "custom": obj.custom, "customSetting": False,
            "deletable": obj.deletable, "deprecatedAndHidden": False, "feedEnabled": False,
            "hasSubtypes": False, "isSubtype": False, "keyPrefix": obj.key_prefix, "label": obj.label,
            "labelPlural": obj.label_plural, "layoutable": True, "mergeable": False, "mruEnabled": False,
            "name": obj.name, "queryable": obj.queryable, "replicateable": True, "retrieveable": True,
            "searchable": True, "triggerable": True, "undeletable": obj.deletable, "updateable": obj.updateable,
            "urls": _urls(obj, version)}


def object_describe(schema: OrgSchema, obj: ObjectDef, version: str,
                    record_types: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /sobjects/{obj}/describe``; `record_types` are the object's RecordType rows."""
    fields = list(obj.fields.values())
    name = _person_name(obj)
    if name is not None:
        fields.insert(next((i for i, f in enumerate(fields) if f.name == "LastName"), 1) + 1, name)
    children = []
    for child, f in schema.child_relationships(obj.name):
        children.append({"cascadeDelete": False, "childSObject": child.name, "deprecatedAndHidden": False,
                         "field": f.name, "junctionIdListNames": [], "junctionReferenceTo": [],
                         "relationshipName": child_relationship_name(child, f),
                         "restrictedDelete": False})
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    infos = [{"active": True, "available": True, "defaultRecordTypeMapping": not record_types,
              "developerName": "Master", "master": True, "name": "Master", "recordTypeId": MASTER_RECORD_TYPE,
              "urls": {"layout": f"{base}/describe/layouts/{MASTER_RECORD_TYPE}"}}]
    for index, rt in enumerate(record_types):
        infos.append({"active": bool(rt["IsActive"]), "available": bool(rt["IsActive"]),
                      "defaultRecordTypeMapping": index == 0, "developerName": rt["DeveloperName"],
                      "master": False, "name": rt["Name"], "recordTypeId": rt["Id"],
                      "urls": {"layout": f"{base}/describe/layouts/{rt['Id']}"}})
    describe = object_summary(obj, version)
    describe.update({"childRelationships": children, "fields": [field_describe(f) for f in fields],
                     "recordTypeInfos": infos, "supportedScopes": [{"label": "All", "name": "everything"}]})
    describe["urls"].update({"layouts": f"{base}/describe/layouts",
                             "compactLayouts": f"{base}/describe/compactLayouts"})
    return describe
