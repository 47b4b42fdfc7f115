"""The history object is described three times: the sf source metadata a real org deploys, the local
org's bundled schema, and the fields the org store writes. They must agree, field by field."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from migrator.history.org_store import FIELDS, OBJECT

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "salesforce" / "objects" / OBJECT
NS = {"m": "http://soap.sforce.com/2006/04/metadata"}
SF_TYPES = {"string": "Text", "double": "Number", "datetime": "DateTime", "textarea": "LongTextArea"}


def _local_fields() -> dict:
    bundled = yaml.safe_load((ROOT / "migrator" / "localorg" / "migrator_objects.yaml").read_text("utf-8"))
    return bundled["objects"][OBJECT]["fields"]


def test_the_store_writes_exactly_the_fields_the_local_org_has():
    assert set(FIELDS) == set(_local_fields())
    for name, (_, length) in FIELDS.items():
        if length:
            assert _local_fields()[name]["length"] == length, name


def test_the_deployable_metadata_matches_the_local_org():
    obj = ET.parse(SOURCE / f"{OBJECT}.object-meta.xml").getroot()
    assert obj.findtext("m:nameField/m:type", namespaces=NS) == "Text"
    assert obj.findtext("m:deploymentStatus", namespaces=NS) == "Deployed"
    files = sorted((SOURCE / "fields").glob("*.field-meta.xml"))
    assert {f.name.removesuffix(".field-meta.xml") for f in files} == set(_local_fields()) - {"Name"}
    for file in files:
        field = ET.parse(file).getroot()
        name = field.findtext("m:fullName", namespaces=NS)
        local = _local_fields()[name]
        assert field.findtext("m:type", namespaces=NS) == SF_TYPES[local["type"]], name
        if "length" in local:
            assert int(field.findtext("m:length", namespaces=NS)) == local["length"], name
        if local["type"] == "double":
            assert int(field.findtext("m:precision", namespaces=NS)) == local["precision"], name
            assert int(field.findtext("m:scale", namespaces=NS)) == local["scale"], name
        assert (field.findtext("m:externalId", namespaces=NS) == "true") == bool(local.get("external_id")), name
        assert (field.findtext("m:unique", namespaces=NS) == "true") == bool(local.get("unique")), name
        assert field.findtext("m:required", namespaces=NS) == "false", name  # required fields take no FLS


def test_the_permission_set_grants_every_field_and_the_lock_s_delete():
    root = ET.parse(ROOT / "salesforce" / "permissionsets" / "Migrator_History.permissionset-meta.xml").getroot()
    granted = {p.findtext("m:field", namespaces=NS) for p in root.findall("m:fieldPermissions", NS)
               if p.findtext("m:editable", namespaces=NS) == "true"}
    assert granted == {f"{OBJECT}.{name}" for name in _local_fields() if name != "Name"}
    [objects] = root.findall("m:objectPermissions", NS)
    assert objects.findtext("m:object", namespaces=NS) == OBJECT
    assert all(objects.findtext(f"m:{p}", namespaces=NS) == "true"
               for p in ("allowCreate", "allowRead", "allowEdit", "allowDelete"))


def test_the_sf_project_deploys_the_salesforce_folder():
    project = json.loads((ROOT / "sfdx-project.json").read_text("utf-8"))
    assert [d["path"] for d in project["packageDirectories"]] == ["salesforce"]
