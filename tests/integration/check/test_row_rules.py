"""Every kind of row problem the target's fields define, found in one `check` against the real local
org, each as a reject with its source file, physical line, field, value and reason."""

from __future__ import annotations

from migrator import api

from .conftest import FAST

SCHEMA = """\
objects:
  Account:
    record_types: {Enterprise: Enterprise}
    fields:
      Region__c: {type: picklist, values: [North, South], restricted: true}
      Tags__c: {type: multipicklist, values: [Red, Green, Blue], restricted: true}
      Score__c: {type: number, precision: 5, scale: 2}
      Checked__c: {type: datetime}
      Contact_Email__c: {type: email}
"""
PLAN = """\
version: 1
name: rules
defaults: {operation: upsert, external_id: Legacy_Id__c}
objects:
  - object: Account
    source: accounts.csv
    fields:
      Legacy_Id__c: id
      Name: name
      Sic: sic
      AnnualRevenue: revenue
      NumberOfEmployees: staff
      Score__c: score
      Region__c: region
      Tags__c: tags
      Contact_Email__c: email
      Phone: phone
      Website: site
      Founded__c: founded
      Checked__c: checked
      RecordTypeId: {record_type: kind}
"""
HEADER = "id,name,sic,revenue,staff,score,region,tags,email,phone,site,founded,checked,kind\n"
GOOD = "{id},Acme,1234,1000,10,1.5,North,Red;Blue,a@example.com,+1 555 0100,acme.example.com,2001-02-03," \
       "2024-01-02T03:04:05Z,Enterprise\n"
BROKEN = {  # field -> the value that breaks it, and the reason expected
    "Sic": ("123456789012345678901", "21 characters, but Sic takes at most 20"),
    "AnnualRevenue": ("1000.50", "has decimals, but AnnualRevenue keeps whole numbers (the org would round it)"),
    "NumberOfEmployees": ("123456789", "too many digits: NumberOfEmployees holds at most 8 before the decimal point"),
    "Score__c": ("1.234", "3 decimal places, but Score__c keeps 2 (the org would round it)"),
    "Region__c": ("East", "'East' is not a value of the restricted picklist Region__c (values: North, South)"),
    "Tags__c": ("Red;Pink", "'Pink' is not a value of the restricted picklist Tags__c (values: Red, Green, Blue)"),
    "Contact_Email__c": ("a@b", "not a valid email address"),
    "Phone": ("call me", "not a phone number"),
    "Website": ("not a site", "not a URL"),
    "Founded__c": ("1650-01-01", "date outside Salesforce's range 1700-01-01..4000-12-31"),
    "Checked__c": ("soon", "not a datetime (expected ISO 8601)"),
    "RecordTypeId": ("Retail", "no record type with this DeveloperName on Account (known: Enterprise)"),
}
COLUMNS = HEADER.strip().split(",")
FIELD_COLUMN = {"Sic": "sic", "AnnualRevenue": "revenue", "NumberOfEmployees": "staff", "Score__c": "score",
                "Region__c": "region", "Tags__c": "tags", "Contact_Email__c": "email", "Phone": "phone",
                "Website": "site", "Founded__c": "founded", "Checked__c": "checked", "RecordTypeId": "kind"}


def test_every_kind_of_row_problem_is_a_located_reject(tmp_path):
    from migrator.localorg.server import LocalOrgServer

    from .conftest import SCHEMA as PLANS_SCHEMA

    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    lines = [HEADER, GOOD.format(id="A0")]
    expected = {}
    for number, (field, (value, reason)) in enumerate(BROKEN.items(), 1):
        row = dict(zip(COLUMNS, GOOD.format(id=f"A{number}").strip().split(","), strict=True))
        row[FIELD_COLUMN[field]] = value
        lines.append(",".join(row[c] for c in COLUMNS) + "\n")
        expected[field] = (str(len(lines)), f"A{number}", value, reason)
    (tmp_path / "accounts.csv").write_text("".join(lines), encoding="utf-8")
    plan = tmp_path / "rules.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    with LocalOrgServer(tmp_path / "org.db", schema_files=(PLANS_SCHEMA, schema), port=0) as server:
        (tmp_path / "migrator.toml").write_text(
            f'[targets.t]\nauth = "token"\ninstance_url = "{server.instance_url}"\naccess_token_env = "T"\n'
            f'verify = "{server.ca_file}"\n', encoding="utf-8")
        result = api.check(plan, target="t", home=tmp_path / ".m", project_dir=tmp_path,
                           env={"T": server.access_token}, clock=FAST)
    assert not result.problems and result.exit_code == 1
    found = {r["field"]: (r["source_row"], r["key"], r["value"], r["reason"]) for r in result.rejects}
    assert found == expected
    assert {r["source_file"] for r in result.rejects} == {"accounts.csv"}
    assert result.manifest.rejects == len(BROKEN)
    (account,) = result.forecast
    assert (account.created, account.rejected) == (1, len(BROKEN))
