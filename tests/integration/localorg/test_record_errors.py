"""Every per-record error the DML engine sends, in Salesforce's ``CODE:message:fields --`` form (§5.3)."""

from __future__ import annotations

from tests.integration.conftest import unique

from .support import run_job


def _account(http, org, **fields: str) -> str:
    tag = unique("ACC")
    columns = {"Name": f"Account {tag}", "Legacy_Id__c": tag, **fields}
    outcome = run_job(http, org, "Account", "insert", ",".join(columns) + "\n" + ",".join(columns.values()) + "\n")
    [row] = outcome.successful
    return row["sf__Id"]


def test_required_fields_missing(http, local_org):
    outcome = run_job(http, local_org, "Opportunity", "insert", "Description\nno name or stage or close date\n")
    assert outcome.failed[0]["sf__Error"] == ("REQUIRED_FIELD_MISSING:Required fields are missing: "
                                              "[Name, StageName, CloseDate]:Name,StageName,CloseDate --")
    blank = run_job(http, local_org, "Account", "insert", "Name,Site\n,here\n#N/A,there\n")
    assert {r["sf__Error"] for r in blank.failed} == {"REQUIRED_FIELD_MISSING:Required fields are missing: "
                                                      "[Name]:Name --"}
    account = _account(http, local_org)
    cleared = run_job(http, local_org, "Account", "update", f"Id,Name\n{account},#N/A\n")
    assert cleared.failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]")
    assert cleared.failed[0]["sf__Id"] == account


def test_value_errors(http, local_org):
    rows = {
        "long": ("Name", "x" * 256),
        "email": ("Contact_Email__c", "not-an-email"),
        "picklist": ("Region__c", "Up"),
        "multi": ("Tags__c", "Red;Pink"),
        "date": ("Founded__c", "2024-02-30"),
        "datetime": ("Audited_At__c", "yesterday"),
        "number": ("Score__c", "abc"),
        "range": ("Score__c", "1000"),
        "int": ("NumberOfEmployees", "1.5"),
        "bool": ("Active__c", "yes"),
    }
    header = ["Legacy_Id__c", "Name", "Contact_Email__c", "Region__c", "Tags__c", "Founded__c", "Audited_At__c",
              "Score__c", "NumberOfEmployees", "Active__c"]
    lines = [",".join(header)]
    for key, (column, value) in rows.items():
        values = {h: "" for h in header}
        values.update({"Legacy_Id__c": unique(key), "Name": "Fine"})
        values[column] = value
        lines.append(",".join(values[h] for h in header))
    outcome = run_job(http, local_org, "Account", "insert", "\n".join(lines) + "\n")
    errors = {row["Legacy_Id__c"].rstrip("0123456789"): row["sf__Error"] for row in outcome.failed}
    assert errors == {
        "long": f"STRING_TOO_LONG:Account Name: data value too large: {'x' * 256} (max length=255):Name --",
        "email": "INVALID_EMAIL_ADDRESS:Contact Email: invalid email address: not-an-email:Contact_Email__c --",
        "picklist": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Region: bad value for restricted picklist field: "
                    "Up:Region__c --",
        "multi": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Tags: bad value for restricted picklist field: "
                 "Pink:Tags__c --",
        "date": "INVALID_TYPE_ON_FIELD_IN_RECORD:Founded: value not of required type: 2024-02-30:Founded__c --",
        "datetime": "INVALID_TYPE_ON_FIELD_IN_RECORD:Audited At: value not of required type: yesterday:"
                    "Audited_At__c --",
        "number": "INVALID_TYPE_ON_FIELD_IN_RECORD:Score: value not of required type: abc:Score__c --",
        "range": "NUMBER_OUTSIDE_VALID_RANGE:Score: value outside of valid range on numeric field: 1000:Score__c --",
        "int": "INVALID_TYPE_ON_FIELD_IN_RECORD:Employees: value not of required type: 1.5:NumberOfEmployees --",
        "bool": "INVALID_TYPE_ON_FIELD_IN_RECORD:Active: value not of required type: yes:Active__c --",
    }
    assert outcome.successful == []


def test_lookup_id_errors(http, local_org):
    live = _account(http, local_org)
    gone = _account(http, local_org)
    run_job(http, local_org, "Account", "delete", f"Id\n{gone}\n")
    missing = live[:9] + "zzzzzz"
    data = (f"LastName,AccountId\nBad,001bad\nWrongType,{'003' + live[3:15]}\nMissing,{missing}\n"
            f"Deleted,{gone}\nGood,{live[:15]}\n")
    outcome = run_job(http, local_org, "Contact", "insert", data)
    errors = {row["LastName"]: row["sf__Error"] for row in outcome.failed}
    assert errors == {"Bad": "MALFORMED_ID:Account ID: id value of incorrect type: 001bad:AccountId --",
                      "WrongType": f"MALFORMED_ID:Account ID: id value of incorrect type: 003{live[3:15]}:AccountId --",
                      "Missing": "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--",
                      "Deleted": "ENTITY_IS_DELETED:entity is deleted:--"}
    assert [row["LastName"] for row in outcome.successful] == ["Good"]


def test_relationship_errors(http, local_org):
    code = unique("PC")
    first, second = _account(http, local_org, Partner_Code__c=code), _account(http, local_org, Partner_Code__c=code)
    account_key = unique("AK")
    _account(http, local_org, Legacy_Id__c=account_key)
    data = (f"LastName,AccountId,Account.Legacy_Id__c,Account.Partner_Code__c\n"
            f"Orphan,,nope-{account_key},\nBoth,{first},{account_key},\nAmbiguous,,,{code}\n")
    outcome = run_job(http, local_org, "Contact", "insert", data)
    errors = {row["LastName"]: row["sf__Error"] for row in outcome.failed}
    assert errors["Orphan"] == (f"INVALID_FIELD:Foreign key external ID: nope-{account_key} not found for field "
                                f"Legacy_Id__c in entity Account:--")
    assert errors["Both"] == "INVALID_FIELD:More than one value supplied for field AccountId:AccountId --"
    assert errors["Ambiguous"].startswith("DUPLICATE_EXTERNAL_ID:Partner_Code__c: more than one record found for "
                                          "external id field: [")
    assert first in errors["Ambiguous"] and second in errors["Ambiguous"]


def test_duplicates(http, local_org):
    key = unique("DUP")
    existing = _account(http, local_org, Legacy_Id__c=key)
    twice = unique("TW")
    outcome = run_job(http, local_org, "Account", "insert",
                      f"Name,Legacy_Id__c\nClash,{key}\nFirst,{twice}\nSecond,{twice.lower()}\n")
    errors = {row["Name"]: row["sf__Error"] for row in outcome.failed}
    assert errors == {"Clash": f"DUPLICATE_VALUE:duplicate value found: Legacy_Id__c duplicates value on record "
                               f"with id: {existing}:--",
                      "Second": "DUPLICATE_VALUE:duplicate value found: Legacy_Id__c duplicates value on record "
                                "with id: :--"}
    upsert = run_job(http, local_org, "Account", "upsert", f"Name,Legacy_Id__c\nA,{key}\nB,{key.lower()}\n",
                     externalIdFieldName="Legacy_Id__c")
    assert sorted(row["sf__Error"] for row in upsert.failed) == [
        f"DUPLICATE_VALUE:Duplicate external id specified: {key}:Legacy_Id__c --",
        f"DUPLICATE_VALUE:Duplicate external id specified: {key.lower()}:Legacy_Id__c --"]
    update = run_job(http, local_org, "Account", "update", f"Id,Site\n{existing},a\n{existing[:15]},b\n")
    assert update.failed[0]["sf__Error"] == f"DUPLICATE_VALUE:Duplicate id in list: {existing}:--"
    assert [row["Site"] for row in update.successful] == ["a"]


def test_upsert_matching_several_records(http, local_org):
    code = unique("MULTI")
    ids = {_account(http, local_org, Partner_Code__c=code), _account(http, local_org, Partner_Code__c=code)}
    outcome = run_job(http, local_org, "Account", "upsert", f"Name,Partner_Code__c\nWhich,{code}\n",
                      externalIdFieldName="Partner_Code__c")
    error = outcome.failed[0]["sf__Error"]
    assert error.startswith("DUPLICATE_EXTERNAL_ID:Partner_Code__c: more than one record found for external id "
                            "field: [") and all(i in error for i in ids)


def test_fields_that_cannot_be_written(http, local_org):
    insert = run_job(http, local_org, "Account", "insert",
                     "Name,CreatedDate,Id\nStamp,2024-01-01T00:00:00Z,\nWithId,,001000000000000AAA\n")
    errors = {row["Name"]: row["sf__Error"] for row in insert.failed}
    assert errors["Stamp"] == ("INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: CreatedDate. Please "
                               "check the security settings of this field and verify that it is read/write for your "
                               "profile or permission set.:CreatedDate --")
    assert errors["WithId"] == "INVALID_FIELD_FOR_INSERT_UPDATE:cannot specify Id in an insert call:Id --"
    lead = run_job(http, local_org, "Lead", "insert", "LastName,Company,IsConverted\nLee,L Co,false\n")
    [row] = lead.successful
    update = run_job(http, local_org, "Lead", "update", f"Id,IsConverted\n{row['sf__Id']},true\n")
    assert update.failed[0]["sf__Error"].startswith("INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update "
                                                    "fields: IsConverted.")


def test_missing_arguments(http, local_org):
    no_id = run_job(http, local_org, "Account", "update", "Name\nNo id column\n")
    assert no_id.failed[0]["sf__Error"] == "MISSING_ARGUMENT:Id not specified in an update call:--"
    blank_id = run_job(http, local_org, "Account", "update", "Id,Name\n,Blank\n")
    assert blank_id.failed[0]["sf__Error"] == "MISSING_ARGUMENT:Id not specified in an update call:--"
    no_key = run_job(http, local_org, "Account", "upsert", "Name,Legacy_Id__c\nNo key,\n",
                     externalIdFieldName="Legacy_Id__c")
    assert no_key.failed[0]["sf__Error"] == "MISSING_ARGUMENT:Legacy_Id__c not specified:--"
    no_column = run_job(http, local_org, "Account", "upsert", "Name\nNo key column\n",
                        externalIdFieldName="Legacy_Id__c")
    assert no_column.failed[0]["sf__Error"] == "MISSING_ARGUMENT:Legacy_Id__c not specified:--"
    delete = run_job(http, local_org, "Account", "delete", 'Id\n\n""\n')
    assert delete.info["numberRecordsProcessed"] == 1
    assert delete.failed[0]["sf__Error"] == "MISSING_ARGUMENT:Id not specified in a delete call:--"


def test_delete_errors_carry_the_record_id(http, local_org):
    account = _account(http, local_org)
    missing = account[:9] + "yyyyyy"
    run_job(http, local_org, "Account", "delete", f"Id\n{account}\n")
    outcome = run_job(http, local_org, "Account", "delete", f"Id\n{account}\n{missing}\n001bad\n")
    errors = {row["Id"]: (row["sf__Id"], row["sf__Error"]) for row in outcome.failed}
    assert errors[account] == (account, "ENTITY_IS_DELETED:entity is deleted:--")
    assert errors[missing] == (missing[:15] + errors[missing][0][15:], "INVALID_CROSS_REFERENCE_KEY:invalid cross "
                                                                       "reference id:--")
    assert errors["001bad"] == ("", "MALFORMED_ID:Account ID: id value of incorrect type: 001bad:Id --")
