"""SELECT lists: fields, parent paths (1 and 2 levels, custom, polymorphic), COUNT, FIELDS(), and the
CSV / REST value formats."""

from __future__ import annotations

import pytest

from migrator.localorg.soql import SoqlError

from .test_soql_support import SampleOrg, sample_org


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    return sample_org()


def test_columns_use_canonical_case_and_select_order(org):
    q = org.compile("select name, ID, account.NAME, account.owner.email from CONTACT where lastname = 'doe'")
    assert q.object_name == "Contact"
    assert q.columns == ("Name", "Id", "Account.Name", "Account.Owner.Email")
    assert list(q.iter_rows(org.conn)) == [("John Doe", org.ids["john"], "Acme", "ann@x.com")]


def test_parent_two_levels_through_self_lookup(org):
    rows = org.rows("SELECT LastName, ReportsTo.LastName, ReportsTo.Account.Name FROM Contact "
                    "ORDER BY LastName")
    assert rows == [("Doe", "", ""), ("Roe", "Doe", "Acme"), ("Solo", "Roe", "Globex")]


def test_custom_relationship_uses_r_suffix(org):
    rows = org.rows("SELECT Name, Parent_Account__r.Name, Parent_Account__r.Owner.Username FROM Project__c "
                    "ORDER BY Name")
    assert rows == [("Apollo", "Acme", "ann@org"), ("Gemini", "Globex", "bob@org")]


def test_parent_fields_are_joined_not_per_row(org):
    q = org.compile("SELECT Account.Name, Account.Owner.Email FROM Contact")
    assert q.sql.count("LEFT JOIN") == 2
    assert 'LEFT JOIN "Account" AS j1 ON j1."Id" = t0."AccountId"' in q.sql


def test_polymorphic_fields_resolve_through_each_target_type(org):
    rows = org.rows("SELECT Subject, Who.Name, Who.Type, What.Name, What.Type FROM Task ORDER BY Subject")
    assert rows == [("Call", "John Doe", "Contact", "Acme", "Account"),
                    ("Email", "Lee", "Lead", "Apollo", "Project__c"),
                    ("Nothing", "", "", "", "")]
    sql = org.compile("SELECT Who.Name FROM Task").sql
    assert "substr(t0.\"WhoId\", 1, 3) = '003'" in sql and "substr(t0.\"WhoId\", 1, 3) = '00Q'" in sql
    assert "COALESCE(" in sql


def test_polymorphic_field_existing_on_one_target_only(org):
    # Company exists on Lead, not on Contact: the Contact branch simply yields null.
    assert org.rows("SELECT Subject, Who.Company FROM Task ORDER BY Subject") == [
        ("Call", ""), ("Email", "L Co"), ("Nothing", "")]


def test_compound_person_name(org):
    assert org.column("SELECT Name FROM Contact ORDER BY LastName") == ["John Doe", "Jane Roe", "Solo"]
    assert org.rows("SELECT Account.Owner.Name FROM Contact WHERE LastName = 'Doe'") == [("Ann Smith",)]


def test_object_name_and_alias_may_qualify_fields(org):
    assert org.column("SELECT Account.Name FROM Account WHERE Account.Name = 'Acme'") == ["Acme"]
    q = org.compile("SELECT c.LastName, c.Account.Name FROM Contact c WHERE c.LastName = 'Doe'")
    assert q.columns == ("LastName", "Account.Name")
    assert list(q.iter_rows(org.conn)) == [("Doe", "Acme")]


def test_csv_value_formats(org):
    rows = org.rows("SELECT HasOptedOutOfEmail, Birthdate, Account.AnnualRevenue, Account.NumberOfEmployees, "
                    "Account.CreatedDate, Email FROM Contact ORDER BY LastName")
    assert rows == [
        ("true", "1990-05-01", "1500000.0", "120", "2024-06-15T08:30:00.000Z", "john@acme.com"),
        ("false", "1985-12-31", "250.75", "5", "2024-06-14T23:59:59.000Z", ""),
        ("false", "", "", "", "", ""),
    ]
    assert org.rows("SELECT Budget__c, Score__c, Active__c FROM Project__c ORDER BY Name") == [
        ("12.5", "0.1", "true"), ("100000000000000000000.0", "", "false")]


def test_csv_rows_are_all_text(org):
    for row in org.rows("SELECT FIELDS(ALL) FROM Project__c"):
        assert all(isinstance(value, str) for value in row)


def test_rest_records_nest_parents_with_attributes(org):
    [record] = org.records("SELECT Id, Name, Account.Name, Account.Owner.Email, ReportsTo.Name, "
                           "HasOptedOutOfEmail, Account.AnnualRevenue, Account.NumberOfEmployees, "
                           "Account.CreatedDate FROM Contact WHERE LastName = 'Doe'", api_version="58.0")
    acme, ann = org.ids["acme"], org.ids["ann"]
    assert record == {
        "attributes": {"type": "Contact", "url": f"/services/data/v58.0/sobjects/Contact/{org.ids['john']}"},
        "Id": org.ids["john"],
        "Name": "John Doe",
        "Account": {
            "attributes": {"type": "Account", "url": f"/services/data/v58.0/sobjects/Account/{acme}"},
            "Name": "Acme",
            "Owner": {"attributes": {"type": "User", "url": f"/services/data/v58.0/sobjects/User/{ann}"},
                      "Email": "ann@x.com"},
            "AnnualRevenue": 1500000.0,
            "NumberOfEmployees": 120,
            "CreatedDate": "2024-06-15T08:30:00.000+0000",
        },
        "ReportsTo": None,
        "HasOptedOutOfEmail": True,
    }
    assert isinstance(record["Account"]["NumberOfEmployees"], int)


def test_rest_records_polymorphic_parent_type_comes_from_the_id(org):
    records = org.records("SELECT Who.Name, What.Name FROM Task ORDER BY Subject")
    assert records[0]["Who"]["attributes"]["type"] == "Contact"
    assert records[1]["Who"]["attributes"]["type"] == "Lead"
    assert records[1]["What"]["attributes"] == {
        "type": "Project__c", "url": f"/services/data/v62.0/sobjects/Project__c/{org.ids['apollo']}"}
    assert records[2]["Who"] is None and records[2]["What"] is None


def test_rest_records_nulls_are_none(org):
    [record] = org.records("SELECT FirstName, Birthdate, Account.Name FROM Contact WHERE LastName = 'Solo'")
    assert record["FirstName"] is None and record["Birthdate"] is None and record["Account"] is None


def test_count_query(org):
    q = org.compile("SELECT COUNT() FROM Contact")
    assert q.is_count and q.has_aggregate and q.columns == ()
    assert q.count(org.conn) == 3
    assert list(q.iter_rows(org.conn)) == [] and list(q.iter_records(org.conn)) == []
    assert org.compile("SELECT count() FROM Account WHERE Industry = 'Technology'").count(org.conn) == 1
    assert org.compile("SELECT COUNT() FROM Account WHERE Owner.LastName = 'Jones'").count(org.conn) == 1


def test_count_of_field_is_an_aggregate_row(org):
    q = org.compile("SELECT COUNT(Id), COUNT(AccountId) withAccount, COUNT_DISTINCT(Account.Industry) "
                    "FROM Contact")
    assert not q.is_count and q.has_aggregate
    assert q.columns == ("expr0", "withAccount", "expr1")  # exprN counts only the aggregates without an alias
    assert list(q.iter_rows(org.conn)) == [("3", "2", "2")]
    assert list(q.iter_records(org.conn)) == [
        {"attributes": {"type": "AggregateResult"}, "expr0": 3, "withAccount": 2, "expr1": 2}]


def test_plain_query_has_no_aggregate(org):
    q = org.compile("SELECT Id FROM Account")
    assert not q.is_count and not q.has_aggregate and not q.uses_offset


def test_fields_functions(org):
    standard = org.compile("SELECT FIELDS(STANDARD) FROM Project__c").columns
    custom = org.compile("SELECT FIELDS(CUSTOM) FROM Project__c").columns
    everything = org.compile("SELECT FIELDS(ALL) FROM Project__c").columns
    assert "Id" in standard and "Name" in standard and "Budget__c" not in standard
    assert custom == ("Parent_Account__c", "Budget__c", "Score__c", "Tags__c", "Kickoff__c", "Active__c")
    assert set(everything) == set(standard) | set(custom)
    assert "Logo__c" not in everything  # base64 is never bulk-selected


@pytest.mark.parametrize(("soql", "code", "fragment", "at"), [
    ("SELECT Id, Foo FROM Account", "INVALID_FIELD", "No such column 'Foo' on entity 'Account'", 11),
    ("SELECT Account.Foo FROM Contact", "INVALID_FIELD", "No such column 'Foo' on entity 'Account'", 7),
    ("SELECT Bogus.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Bogus'", 7),
    ("SELECT Who.Account.Name FROM Task", "INVALID_FIELD", "Didn't understand relationship 'Account'", 7),
    ("SELECT Who.Nope FROM Task", "INVALID_FIELD", "No such column 'Nope' on entity 'Name'", 7),
    ("SELECT Id FROM Foo", "INVALID_TYPE", "sObject type 'Foo' is not supported.", 15),
    ("SELECT Id, Name, id FROM Account", "MALFORMED_QUERY", "duplicate field selected: Id", 17),
    ("SELECT COUNT(), Id FROM Account", "MALFORMED_QUERY", "COUNT() must be the only element", 7),
    ("SELECT Name, COUNT(Id) FROM Account", "MALFORMED_QUERY", "Field must be grouped or aggregated: Name",
     7),
    ("SELECT SUM(Name) FROM Account", "MALFORMED_QUERY", "field Name does not support aggregate operator SUM", 11),
    ("SELECT CALENDAR_YEAR(CreatedDate) FROM Account", "MALFORMED_QUERY", "CALENDAR_YEAR() is not supported", 7),
    ("SELECT Name, COUNT(Id) FROM Account GROUP BY Industry", "MALFORMED_QUERY",
     "Field must be grouped or aggregated: Name", 7),
    ("SELECT AnnualRevenue FROM Account GROUP BY AnnualRevenue", "INVALID_FIELD",
     "field 'AnnualRevenue' can not be grouped in a query call", 43),
    ("SELECT Name FROM Account GROUP BY Name ORDER BY Industry", "MALFORMED_QUERY",
     "Ordered field must be grouped or aggregated: Industry", 48),
    ("SELECT Name FROM Account HAVING COUNT(Id) > 1", "MALFORMED_QUERY", "HAVING needs a GROUP BY", 0),
    ("SELECT Name FROM Account ORDER BY COUNT(Id)", "MALFORMED_QUERY", "COUNT() in ORDER BY needs an aggregate", 34),
    ("SELECT Id FROM Account ORDER BY Name FOR UPDATE", "MALFORMED_QUERY", "ORDER BY cannot be used with FOR UPDATE",
     37),
    ("SELECT Id FROM Account FOR UPDATE FOR VIEW", "MALFORMED_QUERY", "unexpected token: 'FOR'", 34),
    ("SELECT Frobnicate(Id) FROM Account", "MALFORMED_QUERY", "Unknown function: Frobnicate", 7),
    ("SELECT FIELDS(SOME) FROM Account", "MALFORMED_QUERY", "FIELDS() takes one of", 7),
    ("SELECT Id, (SELECT Id FROM Contactz) FROM Account", "INVALID_TYPE", "Didn't understand relationship 'Contactz'",
     27),
    ("SELECT Id, (SELECT Nope FROM Contacts) FROM Account", "INVALID_FIELD",
     "No such column 'Nope' on entity 'Contact'", 19),
    ("SELECT Id, (SELECT COUNT(Id) FROM Contacts) FROM Account", "MALFORMED_QUERY", "Aggregate functions are not",
     12),
    ("SELECT TYPEOF Owner WHEN User THEN Name END FROM Contact", "MALFORMED_QUERY", "TYPEOF needs a polymorphic",
     14),
    ("SELECT TYPEOF What WHEN Lead THEN Name END FROM Task", "INVALID_TYPE", "Lead is not an object What can", 24),
    ("SELECT What.Name, TYPEOF What WHEN Account THEN Name END FROM Task", "MALFORMED_QUERY",
     "The relationship What of a TYPEOF cannot also be selected", 0),
    ("SELECT Parent.Parent.Parent.Parent.Parent.Parent.Name FROM Account", "MALFORMED_QUERY",
     "more than 5 levels", 7),
])
def test_select_errors(org, soql, code, fragment, at):
    with pytest.raises(SoqlError) as caught:
        org.compile(soql)
    error = caught.value
    assert error.error_code == code
    assert fragment in error.message
    assert error.position == at
    assert f"ERROR at Row:1:Column:{at + 1}" in str(error)


def test_invalid_field_message_is_salesforces_text(org):
    with pytest.raises(SoqlError) as caught:
        org.compile("SELECT Nme FROM Account")
    assert caught.value.detail == (
        "No such column 'Nme' on entity 'Account'. If you are attempting to use a custom field, be sure to "
        "append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
        "the appropriate names.")
    assert caught.value.message.startswith("\nSELECT Nme FROM Account\n       ^\nERROR at Row:1:Column:8\n")


def test_five_levels_up_are_allowed(org):
    q = org.compile("SELECT Parent.Parent.Parent.Parent.Parent.Name FROM Account")
    assert q.columns == ("Parent.Parent.Parent.Parent.Parent.Name",)
    assert len(list(q.iter_rows(org.conn))) == 3
