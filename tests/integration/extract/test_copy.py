"""`migrator copy` between two local orgs: the same records, links, record types and owners by key;
subsets with exactly their closure; copying twice creates nothing the second time."""

from __future__ import annotations

import json

from migrator.compile.csvio import read_table
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan

from .conftest import Orgs, snapshot

CRM_COUNTS = {"Account": 18, "Contact": 20, "Opportunity": 10, "Project__c": 6, "Task": 12}


def plan_paths(plan: Plan, step_name: str) -> tuple[str, list[str]]:
    """(key field, every field and single-target lookup path the step maps), for comparing two orgs."""
    step = plan.step(step_name)
    assert step is not None and step.external_id
    paths = [f.name for f in step.fields if f.name != step.external_id]
    for lookup in step.lookups:
        if len(lookup.targets) == 1 and lookup.field not in ("WhoId", "WhatId"):
            parent = next(s for s in plan.objects if s.object == lookup.targets[0])
            paths.append(f"{lookup.relationship_name}.{parent.external_id}")
    return step.external_id, paths


def polymorphic_links(org, keys_by_object: dict[str, str]) -> dict[str, tuple]:
    """Task key -> (Who's type and key, What's type and key), parents named by their own keys."""
    keys = {}
    for object_name, key in keys_by_object.items():
        keys.update({r["Id"]: r[key] for r in org.query(f"SELECT Id, {key} FROM {object_name}")})
    return {r["Legacy_Id__c"]: ((r["Who"] or {}).get("Type"), keys.get(r["WhoId"]),
                                (r["What"] or {}).get("Type"), keys.get(r["WhatId"]))
            for r in org.query("SELECT Legacy_Id__c, WhoId, Who.Type, WhatId, What.Type FROM Task")}


CRM_KEYS = {"Account": "Legacy_Id__c", "Contact": "Legacy_Id__c", "Opportunity": "Legacy_Id__c",
            "Project__c": "Project_Code__c"}


def assert_same_crm_contents(orgs: Orgs, source, target) -> None:
    plan = load_plan(orgs.plan())
    for step in plan.objects:
        key, paths = plan_paths(plan, step.name)
        assert snapshot(source, step.object, key, paths) == snapshot(target, step.object, key, paths), step.name
    assert polymorphic_links(source, CRM_KEYS) == polymorphic_links(target, CRM_KEYS)


def test_copy_of_the_crm_example_gives_b_the_same_records_and_links(orgs: Orgs):
    orgs.load_a()
    result = orgs.copy()
    assert result.exit_code == 0, result.to_json()
    for name, count in CRM_COUNTS.items():
        assert orgs.b.count(name) == count, name
    assert_same_crm_contents(orgs, orgs.a, orgs.b)
    parents = {r["Legacy_Id__c"]: (r["Parent"] or {}).get("Legacy_Id__c")
               for r in orgs.b.query("SELECT Legacy_Id__c, Parent.Legacy_Id__c FROM Account")}
    assert parents["ACC-0004"] == "ACC-0003" and parents["ACC-0002"] == "ACC-0001"

    run_dir = result.run_dir
    assert result.run is not None and result.run.paths.root == run_dir  # one run directory
    saved = json.loads((run_dir / "run_results.json").read_text(encoding="utf-8"))
    assert saved["copy"]["source"] == "A" and saved["copy"]["rows"] == sum(CRM_COUNTS.values())
    assert saved["totals"]["created"] == sum(CRM_COUNTS.values()) and saved["totals"]["rejected"] == 0
    assert {p.name for p in run_dir.iterdir()} >= {"copy.json", "extract", "sources", "plan", "steps",
                                                    "run.json", "run_results.json", "report.html"}
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="copy"' in report and "Copied from A" in report and "extract_manifest.json" in report
    manifest = json.loads((run_dir / "sources" / "extract_manifest.json").read_text(encoding="utf-8"))
    contact = next(s for s in manifest["steps"] if s["step"] == "Contact")
    assert contact["computed"] == [{"field": "Description", "reason": "a template"}]


def test_copying_twice_creates_nothing_the_second_time(orgs: Orgs):
    orgs.load_a()
    first = orgs.copy()
    assert first.run.results["totals"]["created"] == sum(CRM_COUNTS.values())
    second = orgs.copy()
    assert second.exit_code == 0
    assert second.run.results["totals"]["created"] == 0
    assert second.run.results["totals"]["updated"] == sum(CRM_COUNTS.values())
    assert {name: orgs.b.count(name) for name in CRM_COUNTS} == CRM_COUNTS
    for step in second.run.results["steps"]:
        success = read_table(second.run_dir / step["files"]["success"])
        assert set(success["created"]) <= {"false"}, step["id"]


def _ids(org, soql: str) -> dict[str, str]:
    return {r["Id"]: r for r in org.query(soql)}


def expected_closure(org) -> dict[str, set[str]]:
    """The Technology accounts, what looks up to them, and every parent those need: computed here from
    all of A's records, independently of the extract."""
    accounts = _ids(org, "SELECT Id, Legacy_Id__c, Industry, ParentId FROM Account")
    contacts = _ids(org, "SELECT Id, Legacy_Id__c, AccountId, ReportsToId FROM Contact")
    opps = _ids(org, "SELECT Id, Legacy_Id__c, AccountId FROM Opportunity")
    projects = _ids(org, "SELECT Id, Project_Code__c, Account__c FROM Project__c")
    tasks = _ids(org, "SELECT Id, Legacy_Id__c, WhoId, WhatId FROM Task")
    chosen = {"Account": {i for i, r in accounts.items() if r["Industry"] == "Technology"}}
    chosen["Contact"] = {i for i, r in contacts.items() if r["AccountId"] in chosen["Account"]}
    chosen["Opportunity"] = {i for i, r in opps.items() if r["AccountId"] in chosen["Account"]}
    chosen["Project__c"] = {i for i, r in projects.items() if r["Account__c"] in chosen["Account"]}
    what = chosen["Account"] | chosen["Opportunity"] | chosen["Project__c"]
    chosen["Task"] = {i for i, r in tasks.items() if r["WhoId"] in chosen["Contact"] or r["WhatId"] in what}
    links = {"Account": (accounts, ["ParentId"]), "Contact": (contacts, ["AccountId", "ReportsToId"]),
             "Opportunity": (opps, ["AccountId"]), "Project__c": (projects, ["Account__c"]),
             "Task": (tasks, ["WhoId", "WhatId"])}
    owner = {**{i: "Account" for i in accounts}, **{i: "Contact" for i in contacts},
             **{i: "Opportunity" for i in opps}, **{i: "Project__c" for i in projects}}
    changed = True
    while changed:
        changed = False
        for name, (records, fields) in links.items():
            for record_id in list(chosen[name]):
                for field in fields:
                    parent = records[record_id][field]
                    if parent and parent in owner and parent not in chosen[owner[parent]]:
                        chosen[owner[parent]].add(parent)
                        changed = True
    keys = {"Account": accounts, "Contact": contacts, "Opportunity": opps, "Project__c": projects, "Task": tasks}
    key_field = {**CRM_KEYS, "Task": "Legacy_Id__c"}
    return {name: {keys[name][i][key_field[name]] for i in ids} for name, ids in chosen.items()}


def _add_cross_links(orgs: Orgs) -> None:
    """A Technology contact managed from a Finance account, and a task of a Technology opportunity whose
    contact works elsewhere: the closure must bring those parents along."""
    session = orgs.a.session()
    base = f"{orgs.a.server.instance_url}/services/data/v62.0"
    ids = {r["Legacy_Id__c"]: r["Id"] for r in orgs.a.query("SELECT Id, Legacy_Id__c FROM Contact")}
    accounts = {r["Legacy_Id__c"]: r["Id"] for r in orgs.a.query("SELECT Id, Legacy_Id__c FROM Account")}
    opps = {r["Legacy_Id__c"]: r for r in orgs.a.query("SELECT Id, Legacy_Id__c, Account.Industry FROM Opportunity")}
    tech_opp = next(r["Id"] for r in opps.values() if (r["Account"] or {}).get("Industry") == "Technology")
    tech_account = next(r["Id"] for r in orgs.a.query("SELECT Id FROM Account WHERE Industry = 'Technology'"))
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Crossover", "Legacy_Id__c": "CON-X1",
         "AccountId": tech_account, "ReportsToId": ids["CON-0001"]},
        {"attributes": {"type": "Task"}, "Subject": "Cross-team review", "Status": "Not Started",
         "Legacy_Id__c": "ACT-X1", "WhatId": tech_opp, "WhoId": ids["CON-0003"]},
    ]
    response = session.post(f"{base}/composite/sobjects", json={"allOrNone": True, "records": records})
    assert all(r["success"] for r in response.json()), response.text
    assert accounts


def test_a_subset_copy_brings_exactly_the_closure_of_its_roots(orgs: Orgs):
    orgs.load_a()
    _add_cross_links(orgs)
    expected = expected_closure(orgs.a)
    plain = {r["Legacy_Id__c"] for r in orgs.a.query("SELECT Legacy_Id__c FROM Account WHERE Industry = 'Technology'")}
    assert expected["Account"] > plain  # parents outside the subset are part of the closure
    result = orgs.copy(where=("Account=Industry = 'Technology'",))
    assert result.exit_code == 0, result.to_json()
    got = {name: {r[key] for r in orgs.b.query(f"SELECT {key} FROM {name}")}
           for name, key in {**CRM_KEYS, "Task": "Legacy_Id__c"}.items()}
    assert got == expected
    assert {s.step: s.mode for s in result.extract.files} == dict.fromkeys(CRM_COUNTS, "subset")
    assert result.run.results["copy"]["selection"]["where"] == {"Account": "Industry = 'Technology'"}


def test_limit_takes_the_first_records_of_each_root_with_their_closure(orgs: Orgs):
    orgs.load_a()
    result = orgs.copy(limit=1)
    assert result.exit_code == 0
    first = min(r["Id"] for r in orgs.a.query("SELECT Id FROM Account"))
    root = orgs.a.query(f"SELECT Legacy_Id__c FROM Account WHERE Id = '{first}'")[0]["Legacy_Id__c"]
    assert {r["Legacy_Id__c"] for r in orgs.b.query("SELECT Legacy_Id__c FROM Account")} == {root}
    contacts_a = {r["Legacy_Id__c"] for r in orgs.a.query(f"SELECT Legacy_Id__c FROM Contact WHERE AccountId = "
                                                          f"'{first}'")}
    contacts_b = {r["Legacy_Id__c"] for r in orgs.b.query("SELECT Legacy_Id__c FROM Contact")}
    assert contacts_a and contacts_a <= contacts_b


# --- keys by source Id, record types by DeveloperName, owners by username ----------------------------


def _create(org, records: list[dict]) -> list[str]:
    base = f"{org.server.instance_url}/services/data/v62.0"
    response = org.session().post(f"{base}/composite/sobjects", json={"allOrNone": True, "records": records})
    results = response.json()
    assert all(r["success"] for r in results), response.text
    return [r["id"] for r in results]


def _user(name: str) -> dict:
    return {"attributes": {"type": "User"}, "Username": name, "LastName": name.split("@")[0].title(),
            "Email": name, "Alias": name[:8]}


def _record_type(org, name: str) -> str:
    return org.query(f"SELECT Id FROM RecordType WHERE SobjectType = 'Account' AND DeveloperName = '{name}'")[0]["Id"]


def seed_source_org(orgs: Orgs) -> dict[str, str]:
    """Records in A without any external id: raw Ids everywhere (record types, owners, parents)."""
    jane, bob = _create(orgs.a, [_user("jane@a.example.com"), _user("bob@a.example.com")])
    _create(orgs.b, [_user("jane@b.example.com")])
    # B has records of its own, so its Ids are not A's, and the copy must leave them alone
    _create(orgs.b, [{"attributes": {"type": "Account"}, "Name": f"B's own {n}"} for n in range(4)])
    enterprise, smb = _record_type(orgs.a, "Enterprise"), _record_type(orgs.a, "SMB")
    acme, = _create(orgs.a, [{"attributes": {"type": "Account"}, "Name": "Acme", "Industry": "Technology",
                              "RecordTypeId": enterprise, "OwnerId": jane}])
    west, solo = _create(orgs.a, [
        {"attributes": {"type": "Account"}, "Name": "Acme West", "RecordTypeId": smb, "OwnerId": bob,
         "ParentId": acme},
        {"attributes": {"type": "Account"}, "Name": "Solo"}])
    boss, = _create(orgs.a, [{"attributes": {"type": "Contact"}, "LastName": "Boss", "AccountId": acme,
                              "OwnerId": jane}])
    worker, = _create(orgs.a, [{"attributes": {"type": "Contact"}, "LastName": "Worker", "AccountId": west,
                                "ReportsToId": boss, "OwnerId": bob}])
    call, note = _create(orgs.a, [
        {"attributes": {"type": "Task"}, "Subject": "Call", "Status": "Not Started", "WhoId": worker,
         "WhatId": west},
        {"attributes": {"type": "Task"}, "Subject": "Note", "Status": "Completed", "WhatId": acme}])
    return {"acme": acme, "west": west, "solo": solo, "boss": boss, "worker": worker, "call": call, "note": note}


def test_records_without_external_ids_travel_by_source_id_record_type_and_owner(orgs: Orgs):
    ids = seed_source_org(orgs)
    assert _record_type(orgs.a, "Enterprise") != _record_type(orgs.b, "Enterprise")  # Ids differ between orgs
    result = orgs.copy("copy.yaml")
    assert result.exit_code == 0, json.dumps(result.to_json(), default=str)[:3000]
    accounts = {r["Source_Id__c"]: r for r in orgs.b.query(
        "SELECT Source_Id__c, Name, RecordTypeId, RecordType.DeveloperName, Owner.Username, Parent.Source_Id__c "
        "FROM Account WHERE Source_Id__c != null")}
    assert set(accounts) == {ids["acme"], ids["west"], ids["solo"]}
    acme, west, solo = accounts[ids["acme"]], accounts[ids["west"]], accounts[ids["solo"]]
    assert acme["RecordType"]["DeveloperName"] == "Enterprise" and acme["RecordTypeId"] == _record_type(
        orgs.b, "Enterprise")
    assert west["RecordType"]["DeveloperName"] == "SMB" and solo["RecordType"] is None
    assert acme["Owner"]["Username"] == "jane@b.example.com"  # through users.map
    assert west["Owner"]["Username"] == "admin@local.org"  # bob is not in B: the default owner
    assert west["Parent"]["Source_Id__c"] == ids["acme"] and acme["Parent"] is None
    contacts = {r["Source_Id__c"]: r for r in orgs.b.query(
        "SELECT Source_Id__c, Account.Source_Id__c, ReportsTo.Source_Id__c, Owner.Username FROM Contact")}
    assert contacts[ids["worker"]]["Account"]["Source_Id__c"] == ids["west"]
    assert contacts[ids["worker"]]["ReportsTo"]["Source_Id__c"] == ids["boss"]
    b_accounts = {r["Id"]: r["Source_Id__c"] for r in orgs.b.query(
        "SELECT Id, Source_Id__c FROM Account WHERE Source_Id__c != null")}
    b_contacts = {r["Id"]: r["Source_Id__c"] for r in orgs.b.query("SELECT Id, Source_Id__c FROM Contact")}
    tasks = {r["Source_Id__c"]: r for r in orgs.b.query("SELECT Source_Id__c, WhoId, WhatId, What.Type FROM Task")}
    assert b_accounts[tasks[ids["call"]]["WhatId"]] == ids["west"] and tasks[ids["call"]]["What"]["Type"] == "Account"
    assert b_contacts[tasks[ids["call"]]["WhoId"]] == ids["worker"]
    assert b_accounts[tasks[ids["note"]]["WhatId"]] == ids["acme"] and tasks[ids["note"]]["WhoId"] is None
    assert not set(b_accounts) & {ids["acme"], ids["west"], ids["solo"]}  # B's own Ids, never A's

    again = orgs.copy("copy.yaml")
    assert again.exit_code == 0 and again.run.results["totals"]["created"] == 0
    assert orgs.b.count("Account") == 3 + 4 and orgs.b.count("Contact") == 2 and orgs.b.count("Task") == 2
    assert len(orgs.b.query("SELECT Id FROM Account WHERE Name LIKE 'B\\'s own%'")) == 4


def test_copy_from_the_command_line(orgs: Orgs, monkeypatch):
    from click.testing import CliRunner

    from migrator.cli import cli

    orgs.load_a()
    monkeypatch.chdir(orgs.project)
    for name, value in orgs.env.items():
        monkeypatch.setenv(name, value)
    shown = CliRunner().invoke(cli, ["copy", "plans/crm.yaml", "--from", "A", "--to", "B", "--where",
                                     "Account=Industry = 'Finance'", "--clean"])
    assert shown.exit_code == 0, shown.output
    assert "Cleanup (dry run: nothing deleted)" in shown.output and "nothing was deleted or loaded" in shown.output
    assert orgs.b.count("Account") == 0
    done = CliRunner().invoke(cli, ["copy", "plans/crm.yaml", "--from", "A", "--to", "B", "--where",
                                    "Account=Industry = 'Finance'", "--format", "json"])
    assert done.exit_code == 0, done.output
    document = json.loads(done.output)
    finance = {r["Legacy_Id__c"] for r in orgs.a.query("SELECT Legacy_Id__c FROM Account WHERE Industry = 'Finance'")}
    copied = {r["Legacy_Id__c"] for r in orgs.b.query("SELECT Legacy_Id__c FROM Account")}
    assert finance <= copied and document["run"]["totals"]["created"] == document["extract"]["rows"]
    refused = CliRunner().invoke(cli, ["copy", "plans/crm.yaml", "--from", "A", "--to", "A"])
    assert refused.exit_code == 2 and "same org" in refused.output
