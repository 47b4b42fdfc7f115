"""SOQL as REST tools send it: GROUP BY with aggregates and HAVING, parent-to-child subqueries, TYPEOF,
and the FOR / UPDATE mode clauses (issue 16 item 5)."""

from __future__ import annotations

import pytest

from .test_soql_support import SampleOrg, sample_org


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    sample = sample_org()
    add = sample.store.insert
    sample.ids["hooli"] = add("Account", Name="Hooli", Industry="technology", AnnualRevenue=10.0,
                              NumberOfEmployees=7)
    return sample


def _plain(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "attributes"} for r in records]


def test_group_by_with_count_sum_min_max_and_avg(org):
    records = org.records("SELECT Industry, COUNT(Id), COUNT(NumberOfEmployees) staffed, SUM(AnnualRevenue), "
                          "MIN(Name), MAX(NumberOfEmployees), AVG(NumberOfEmployees) FROM Account GROUP BY Industry "
                          "ORDER BY Industry NULLS FIRST")
    assert all(r["attributes"] == {"type": "AggregateResult"} for r in records)
    assert _plain(records) == [  # exprN numbers the aggregates without an alias only, as Salesforce does
        {"Industry": None, "expr0": 1, "staffed": 0, "expr1": None, "expr2": "Initech", "expr3": None, "expr4": None},
        {"Industry": "Banking", "expr0": 1, "staffed": 1, "expr1": 250.75, "expr2": "Globex", "expr3": 5,
         "expr4": 5.0},
        {"Industry": "Technology", "expr0": 2, "staffed": 2, "expr1": 1500010.0, "expr2": "Acme", "expr3": 120,
         "expr4": 63.5},
    ], "text groups compare ignoring case (technology joins Technology); deleted rows stay out"
    assert org.compile("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry").count(org.conn) == 3


def test_having_and_ordering_by_an_aggregate(org):
    records = org.records("SELECT Industry, COUNT(Id) n FROM Account GROUP BY Industry HAVING COUNT(Id) >= 1 "
                          "AND Industry != null ORDER BY COUNT(Id) DESC, Industry")
    assert _plain(records) == [{"Industry": "Technology", "n": 2}, {"Industry": "Banking", "n": 1}]
    rich = org.records("SELECT Industry FROM Account GROUP BY Industry HAVING SUM(AnnualRevenue) > 1000")
    assert _plain(rich) == [{"Industry": "Technology"}]
    query = org.compile("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry HAVING COUNT(Id) > 1")
    assert query.count(org.conn) == 1 and len(list(query.iter_records(org.conn))) == 1


def test_grouping_by_a_parent_field_names_it_by_its_field_name(org):
    records = org.records("SELECT Account.Name, COUNT(Id) FROM Contact WHERE AccountId != null "
                          "GROUP BY Account.Name ORDER BY Account.Name")
    assert _plain(records) == [{"Name": "Acme", "expr0": 1}, {"Name": "Globex", "expr0": 1}]


def test_aggregates_without_group_by_answer_one_row(org):
    [record] = org.records("SELECT COUNT(Id), MAX(Birthdate), MIN(CreatedDate) FROM Contact")
    assert _plain([record]) == [{"expr0": 3, "expr1": "1990-05-01", "expr2": "2024-01-01T00:00:00.000+0000"}]
    count = org.compile("SELECT COUNT() FROM Account GROUP BY Industry")
    assert count.is_count and count.count(org.conn) == 3


def test_parent_to_child_subqueries_nest_the_children(org):
    records = org.records("SELECT Name, (SELECT LastName, Email FROM Contacts ORDER BY LastName), "
                          "(SELECT Subject FROM Tasks WHERE Status = 'Completed') FROM Account ORDER BY Name")
    by_name = {r["Name"]: r for r in records}
    acme = by_name["Acme"]
    assert acme["Contacts"] == {"totalSize": 1, "done": True, "records": [
        {"attributes": {"type": "Contact", "url": f"/services/data/v62.0/sobjects/Contact/{org.ids['john']}"},
         "LastName": "Doe", "Email": "john@acme.com"}]}
    assert [t["Subject"] for t in acme["Tasks"]["records"]] == ["Call"]
    assert by_name["Initech"]["Contacts"] is None and by_name["Initech"]["Tasks"] is None
    assert by_name["Globex"]["Tasks"] is None and by_name["Globex"]["Contacts"]["totalSize"] == 1


def test_subquery_limit_is_per_parent_and_children_keep_their_order(org):
    store = org.store
    parent = store.insert("Account", Name="Many Kids")
    for name in ("Zed", "Amy", "Kim"):
        store.insert("Contact", LastName=name, AccountId=parent)
    [record] = org.records(f"SELECT Id, (SELECT LastName FROM Contacts ORDER BY LastName DESC LIMIT 2) FROM Account "
                           f"WHERE Id = '{parent}'")
    assert [c["LastName"] for c in record["Contacts"]["records"]] == ["Zed", "Kim"]
    assert record["Contacts"]["totalSize"] == 2
    custom = org.records("SELECT Name, (SELECT Name FROM Projects__r) FROM Account WHERE Name = 'Acme'")
    assert [p["Name"] for p in custom[0]["Projects__r"]["records"]] == ["Apollo"]


def test_subqueries_are_read_a_block_of_parents_at_a_time(org, monkeypatch):
    from migrator.localorg.soql import query as query_module

    monkeypatch.setattr(query_module, "CHILD_BLOCK", 2)
    records = org.records("SELECT Name, (SELECT LastName FROM Contacts) FROM Account ORDER BY Name")
    assert [r["Name"] for r in records][:3] == ["Acme", "Globex", "Hooli"]
    assert records[1]["Contacts"]["records"][0]["LastName"] == "Roe"
    assert records[2]["Contacts"] is None


def test_typeof_picks_fields_by_the_parents_type(org):
    records = org.records("SELECT Subject, TYPEOF What WHEN Account THEN Name, Industry WHEN Project__c THEN Name, "
                          "Budget__c ELSE Name END FROM Task ORDER BY Subject")
    by_subject = {r["Subject"]: r["What"] for r in records}
    assert by_subject["Call"] == {"attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/"
                                                                           f"{org.ids['acme']}"},
                                  "Name": "Acme", "Industry": "Technology"}
    assert by_subject["Email"]["attributes"]["type"] == "Project__c"
    assert (by_subject["Email"]["Name"], by_subject["Email"]["Budget__c"]) == ("Apollo", 12.5)
    assert by_subject["Nothing"] is None
    only_else = org.records("SELECT TYPEOF What WHEN Account THEN Industry ELSE Name END FROM Task "
                            "WHERE Subject = 'Email'")
    assert only_else[0]["What"] == {"attributes": {"type": "Project__c", "url": f"/services/data/v62.0/sobjects/"
                                                                                f"Project__c/{org.ids['apollo']}"},
                                    "Name": "Apollo"}
    query = org.compile("SELECT Id, TYPEOF Who WHEN Contact THEN LastName END FROM Task")
    assert query.rest_only and query.columns == ("Id",)


def test_mode_clauses_are_accepted(org):
    for soql in ("SELECT Name FROM Account LIMIT 1 FOR VIEW", "SELECT Name FROM Account FOR REFERENCE",
                 "SELECT Name FROM Account UPDATE TRACKING", "SELECT Name FROM Account FOR VIEW UPDATE VIEWSTAT",
                 "SELECT Name FROM Account WHERE Name = 'Acme' FOR UPDATE"):
        query = org.compile(soql)
        assert query.modes and [r["Name"] for r in query.iter_records(org.conn)], soql
