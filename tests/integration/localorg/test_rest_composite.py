"""Composite, Composite Batch and sObject Tree over HTTP (issue 16 item 3)."""

from __future__ import annotations

from tests.integration.conftest import unique

from .support import base, query

V = "/services/data/v62.0"
HALTED = [{"errorCode": "PROCESSING_HALTED",
           "message": "The transaction was rolled back since another operation in the same transaction failed."}]


def _composite(http, org, subrequests: list[dict], all_or_none: bool = False):
    response = http.post(f"{base(org)}/composite", json={"allOrNone": all_or_none, "compositeRequest": subrequests})
    assert response.status_code == 200, response.text
    return response.json()["compositeResponse"]


def test_references_between_subrequests_and_the_response_shape(http, local_org):
    tag = unique("KR")
    answers = _composite(http, local_org, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "refAccount",
         "body": {"Name": f"{tag} Account", "Legacy_Id__c": tag}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "refContact",
         "body": {"LastName": f"{tag} Contact", "AccountId": "@{refAccount.id}"}},
        {"method": "GET", "url": f"{V}/sobjects/Account/@{{refAccount.id}}?fields=Name", "referenceId": "refRead"},
        {"method": "GET", "url": f"{V}/query?q=SELECT+Id,LastName+FROM+Contact+WHERE+AccountId='@{{refAccount.id}}'",
         "referenceId": "refQuery"},
        {"method": "PATCH", "url": f"{V}/sobjects/Contact/@{{refQuery.records[0].Id}}", "referenceId": "refUpdate",
         "body": {"Title": "Title of @{refRead.Name}"}},
    ])
    assert [a["referenceId"] for a in answers] == ["refAccount", "refContact", "refRead", "refQuery", "refUpdate"]
    assert [a["httpStatusCode"] for a in answers] == [201, 201, 200, 200, 204]
    account = answers[0]["body"]["id"]
    assert answers[0]["httpHeaders"] == {"Location": f"{V}/sobjects/Account/{account}"}
    assert answers[2]["body"]["Name"] == f"{tag} Account" and answers[4]["body"] is None
    assert answers[3]["body"]["totalSize"] == 1
    [contact] = query(http, local_org, f"SELECT AccountId, Title FROM Contact WHERE LastName = '{tag} Contact'")
    assert (contact["AccountId"], contact["Title"]) == (account, f"Title of {tag} Account")


def test_all_or_none_rolls_back_everything_and_halts_the_others(http, local_org):
    tag = unique("KN")
    answers = _composite(http, local_org, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "first", "body": {"Name": f"{tag} 1"}},
        {"method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+Account+WHERE+Name='{tag}+1'", "referenceId": "seen"},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "broken", "body": {"Site": "no name"}},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "never", "body": {"Name": f"{tag} 3"}},
    ], all_or_none=True)
    assert [a["httpStatusCode"] for a in answers] == [400, 400, 400, 400]
    assert answers[0]["body"] == HALTED and answers[1]["body"] == HALTED and answers[3]["body"] == HALTED
    assert answers[2]["body"] == [{"errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"],
                                   "message": "Required fields are missing: [Name]"}]
    assert query(http, local_org, f"SELECT Id FROM Account WHERE Name LIKE '{tag}%'") == []


def test_a_query_in_an_all_or_none_composite_sees_its_own_writes(http, local_org):
    tag = unique("KW")
    answers = _composite(http, local_org, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "made", "body": {"Name": f"{tag} seen"}},
        {"method": "GET", "url": f"{V}/query?q=SELECT+Name+FROM+Account+WHERE+Name='{tag}+seen'", "referenceId": "q"},
    ], all_or_none=True)
    assert answers[1]["body"]["records"][0]["Name"] == f"{tag} seen"


def test_without_all_or_none_a_failure_only_breaks_what_depends_on_it(http, local_org):
    tag = unique("KF")
    answers = _composite(http, local_org, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "bad", "body": {"Site": "no name"}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "child",
         "body": {"LastName": "x", "AccountId": "@{bad.id}"}},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "good", "body": {"Name": f"{tag} good"}},
        {"method": "GET", "url": f"{V}/sobjects/Account/@{{good.nope}}", "referenceId": "typo"},
        {"method": "GET", "url": f"{V}/no/such/thing", "referenceId": "missing"},
        {"method": "DELETE", "url": f"{V}/query", "referenceId": "wrongMethod"},
    ])
    assert [a["httpStatusCode"] for a in answers] == [400, 400, 201, 400, 404, 405]
    assert answers[1]["body"] == [{"errorCode": "PROCESSING_HALTED",
                                   "message": "Invalid reference specified. No value for bad.id found in bad."}]
    assert answers[3]["body"][0]["message"] == "Invalid reference specified. No value for good.nope found in good."
    assert answers[4]["body"] == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert answers[5]["body"][0]["errorCode"] == "METHOD_NOT_ALLOWED"
    assert len(query(http, local_org, f"SELECT Id FROM Account WHERE Name = '{tag} good'")) == 1


def test_collections_inside_composite_follow_the_outer_all_or_none(http, local_org):
    tag = unique("KC")
    collection = {"method": "POST", "url": f"{V}/composite/sobjects", "referenceId": "many",
                  "body": {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": f"{tag} ok"},
                                                           {"attributes": {"type": "Account"}}]}}
    inner_only = _composite(http, local_org, [collection])
    assert inner_only[0]["httpStatusCode"] == 200
    assert [r["success"] for r in inner_only[0]["body"]] == [True, False]
    outer = _composite(http, local_org, [{**collection, "body": {**collection["body"], "records": [
        {"attributes": {"type": "Account"}, "Name": f"{tag} rolled"}, {"attributes": {"type": "Account"}}]}}],
        all_or_none=True)
    assert outer[0]["httpStatusCode"] == 200
    assert outer[0]["body"][0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert query(http, local_org, f"SELECT Id FROM Account WHERE Name = '{tag} rolled'") == []


def test_composite_limits_and_request_shape(http, local_org):
    one = {"method": "GET", "url": f"{V}/sobjects/Account/describe", "referenceId": "d"}
    too_many = [{**one, "referenceId": f"d{n}"} for n in range(26)]
    response = http.post(f"{base(local_org)}/composite", json={"compositeRequest": too_many})
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "LIMIT_EXCEEDED"
    queries = [{"method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+Account+LIMIT+1", "referenceId": f"q{n}"}
               for n in range(6)]
    response = http.post(f"{base(local_org)}/composite", json={"compositeRequest": queries})
    assert response.status_code == 400 and "up to 5 query or sObject Collections" in response.json()[0]["message"]
    assert len(_composite(http, local_org, queries[:5])) == 5
    twice = http.post(f"{base(local_org)}/composite", json={"compositeRequest": [one, one]})
    assert twice.status_code == 400 and "Duplicate referenceId" in twice.json()[0]["message"]
    bad_url = http.post(f"{base(local_org)}/composite", json={"compositeRequest": [{**one, "url": "v62.0/limits"}]})
    assert bad_url.status_code == 400
    assert http.post(f"{base(local_org)}/composite", json={"compositeRequest": []}).status_code == 400
    assert http.get(f"{base(local_org)}/composite").json()["tree"] == f"{V}/composite/tree"


def test_batch_runs_independent_subrequests_and_can_halt(http, local_org):
    tag = unique("KB")
    account = http.post(f"{base(local_org)}/sobjects/Account", json={"Name": f"{tag} batch"}).json()["id"]
    response = http.post(f"{base(local_org)}/composite/batch", json={"batchRequests": [
        {"method": "PATCH", "url": f"v62.0/sobjects/Account/{account}", "richInput": {"Site": "from batch"}},
        {"method": "GET", "url": f"v62.0/sobjects/Account/{account}?fields=Site"},
        {"method": "GET", "url": "v62.0/limits"},
        {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Site": "no name"}},
        {"method": "GET", "url": f"v62.0/query?q=SELECT+Name+FROM+Account+WHERE+Id='{account}'"},
    ]})
    body = response.json()
    assert response.status_code == 200 and body["hasErrors"] is True
    assert [r["statusCode"] for r in body["results"]] == [204, 200, 200, 400, 200]
    assert body["results"][1]["result"]["Site"] == "from batch" and body["results"][0]["result"] is None
    assert "DailyApiRequests" in body["results"][2]["result"]
    halted = http.post(f"{base(local_org)}/composite/batch", json={"haltOnError": True, "batchRequests": [
        {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Site": "no name"}},
        {"method": "POST", "url": "v62.0/sobjects/Account", "richInput": {"Name": f"{tag} after"}},
        {"method": "GET", "url": "v62.0/composite/sobjects/Account?ids=x&fields=Name"},
    ]}).json()
    assert [r["statusCode"] for r in halted["results"]] == [400, 412, 412]
    assert halted["results"][1]["result"] == [{"errorCode": "BATCH_PROCESSING_HALTED",
                                               "message": "Batch processing halted per request"}]
    assert query(http, local_org, f"SELECT Id FROM Account WHERE Name = '{tag} after'") == []
    not_in_batch = http.post(f"{base(local_org)}/composite/batch", json={"batchRequests": [
        {"method": "GET", "url": "v62.0/composite/sobjects/Account?ids=x&fields=Name"}]}).json()
    assert not_in_batch["results"][0]["statusCode"] == 404, "collections are not batch subrequests"


def _tree_record(object_name: str, reference: str, **fields) -> dict:
    return {"attributes": {"type": object_name, "referenceId": reference}, **fields}


def test_tree_saves_parents_then_children_and_answers_201(http, local_org):
    tag = unique("KT")
    records = [
        _tree_record("Account", "acme", Name=f"{tag} Acme", Contacts={"records": [
            _tree_record("Contact", "ann", LastName="Ann", Cases={"records": [
                _tree_record("Case", "case1", Subject="Broken")]}),
            _tree_record("Contact", "bob", LastName="Bob")]},
            Opportunities={"records": [_tree_record("Opportunity", "deal", Name="Deal", StageName="Prospecting",
                                                    CloseDate="2027-01-31")]}),
        _tree_record("Account", "globex", Name=f"{tag} Globex"),
    ]
    response = http.post(f"{base(local_org)}/composite/tree/Account", json={"records": records})
    body = response.json()
    assert response.status_code == 201 and body["hasErrors"] is False
    assert [r["referenceId"] for r in body["results"]] == ["acme", "globex", "ann", "bob", "deal", "case1"]
    ids = {r["referenceId"]: r["id"] for r in body["results"]}
    assert ids["acme"].startswith("001") and ids["ann"].startswith("003") and ids["case1"].startswith("500")
    contacts = query(http, local_org, f"SELECT LastName, AccountId FROM Contact WHERE AccountId = '{ids['acme']}'")
    assert sorted((c["LastName"], c["AccountId"]) for c in contacts) == [("Ann", ids["acme"]), ("Bob", ids["acme"])]
    assert query(http, local_org, f"SELECT ContactId FROM Case WHERE Id = '{ids['case1']}'")[0]["ContactId"] == \
        ids["ann"]


def test_a_failing_tree_saves_nothing_and_names_the_failing_records(http, local_org):
    tag = unique("KE")
    records = [_tree_record("Account", "ok", Name=f"{tag} ok", Contacts={"records": [
        _tree_record("Contact", "badEmail", LastName="x", Email="not-an-email"),
        _tree_record("Contact", "fine", LastName="y")]})]
    response = http.post(f"{base(local_org)}/composite/tree/Account", json={"records": records})
    assert response.status_code == 400
    assert response.json() == {"hasErrors": True, "results": [{"referenceId": "badEmail", "errors": [{
        "statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: not-an-email",
        "fields": ["Email"]}]}]}
    assert query(http, local_org, f"SELECT Id FROM Account WHERE Name = '{tag} ok'") == []
    assert query(http, local_org, "SELECT Id FROM Contact WHERE LastName = 'y' AND Email = null AND "
                                  f"Account.Name = '{tag} ok'") == []


def test_tree_shape_errors(http, local_org):
    url = f"{base(local_org)}/composite/tree/Account"
    cases = [
        ([{"attributes": {"type": "Account"}, "Name": "no ref"}], None, "INVALID_INPUT"),
        ([_tree_record("Account", "r1", Name="a"), _tree_record("Account", "r1", Name="b")], "r1", "INVALID_INPUT"),
        ([_tree_record("Contact", "r2", LastName="wrong root")], "r2", "INVALID_TYPE"),
        ([_tree_record("Account", "r3", Name="a", Nope={"records": []})], "r3", "INVALID_FIELD"),
        ([_tree_record("Account", f"n{n}", Name="many") for n in range(201)], None, "LIMIT_EXCEEDED"),
    ]
    deep = _tree_record("Account", "L5", Name="5")
    for level in range(4, -1, -1):
        deep = _tree_record("Account", f"L{level}", Name=str(level), ChildAccounts={"records": [deep]})
    cases.append(([deep], "L4", "INVALID_INPUT"))
    for records, reference, code in cases:
        response = http.post(url, json={"records": records})
        assert response.status_code == 400, code
        [result] = response.json()["results"]
        assert (result["referenceId"], result["errors"][0]["statusCode"]) == (reference, code), result
    assert http.post(f"{base(local_org)}/composite/tree/Nope__c", json={"records": []}).status_code == 404
