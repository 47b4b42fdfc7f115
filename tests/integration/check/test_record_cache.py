"""The records kept from the last comparison (check/record_cache.py) make the next one cheap (keys and
SystemModstamp, then values only for what changed since) and never hide a change: a record edited,
deleted or loaded in the org after it was read is read again and compared as usual."""

from __future__ import annotations

import time

from migrator.check.current import CurrentRecords, Fetch
from migrator.check.record_cache import RECORDS_DIR, org_cache
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.client.rest import RestClient
from migrator.config import open_target, resolve_target

from .test_prediction import write

API = "/services/data/v62.0"


def _sent(result) -> dict[str, tuple[int, int]]:
    return {s["step"]: (s["sent"], s["unchanged"]) for s in result.results["sources"]}


def _ids(org, object_name: str) -> dict[str, str]:
    return {r["Legacy_Id__c"]: r["Id"] for r in org.query(f"SELECT Id, Legacy_Id__c FROM {object_name}")}


def test_a_record_edited_in_the_org_after_a_load_is_detected_and_sent(org):
    plan = write(org.project, 8, 6, 4)
    assert org.run(plan).exit_code == 0
    first = org.run(plan, changed_only=True)  # no state yet: reads every value, and keeps what it read
    assert first.results["totals"]["sent"] == 0 and first.results["totals"]["unchanged"] == 18
    kept = list((org.project / ".migrator" / RECORDS_DIR).glob("*/*.parquet"))
    assert {p.stem for p in kept} == {"Account", "Contact", "Task"}

    http, base = org.session(), org.server.instance_url + API
    account, contact, task = _ids(org, "Account")["A3"], _ids(org, "Contact")["C2"], _ids(org, "Task")["T1"]
    assert http.patch(f"{base}/sobjects/Account/{account}", json={"Name": "Edited in the org"}).status_code == 204
    assert http.patch(f"{base}/sobjects/Contact/{contact}", json={"HasOptedOutOfEmail": True}).status_code == 204
    assert http.delete(f"{base}/sobjects/Task/{task}").status_code == 204

    again = org.run(plan, changed_only=True)
    assert again.exit_code == 0, again.results
    assert _sent(again) == {"Account": (1, 7), "Contact": (1, 5), "Task": (1, 3)}
    names = {r["Legacy_Id__c"]: r["Name"] for r in org.query("SELECT Legacy_Id__c, Name FROM Account")}
    assert names["A3"] == "Account 3"
    assert {r["Legacy_Id__c"] for r in org.query("SELECT Legacy_Id__c FROM Task")} == {"T0", "T1", "T2", "T3"}
    # what that run sent is read again (its SystemModstamp moved), and found unchanged
    third = org.run(plan, changed_only=True)
    assert third.results["totals"]["sent"] == 0 and third.results["totals"]["unchanged"] == 18


def test_a_stale_state_never_hides_a_change(org):
    """The state says the org holds the source's values; a plain load then changes the org behind
    its back; going back to the first source must send those rows again."""
    plan = write(org.project, 8, 6, 4)
    assert org.run(plan).exit_code == 0
    assert org.run(plan, changed_only=True).results["totals"]["sent"] == 0  # state: the org holds version 1
    write(org.project, 8, 6, 4, accounts=frozenset({1, 5}), contacts=frozenset({0}))
    assert org.run(plan).exit_code == 0  # a plain load: no comparison, the state is not told
    names = {r["Legacy_Id__c"]: r["Name"] for r in org.query("SELECT Legacy_Id__c, Name FROM Account")}
    assert names["A5"] == "Account 5 (renamed)"
    write(org.project, 8, 6, 4)  # back to version 1, the values the state holds
    result = org.run(plan, changed_only=True)
    assert _sent(result) == {"Account": (2, 6), "Contact": (1, 5), "Task": (0, 4)}
    names = {r["Legacy_Id__c"]: r["Name"] for r in org.query("SELECT Legacy_Id__c, Name FROM Account")}
    assert names["A5"] == "Account 5" and names["A1"] == "Account 1"


def test_with_a_state_only_keys_and_stamps_are_read_then_the_changed_records(org):
    plan = write(org.project, 8, 6, 4)
    assert org.run(plan).exit_code == 0
    target = resolve_target("test", cli_overrides={}, env=org.env, project_dir=org.project)
    home = org.project / ".migrator"
    wanted = Fetch("Account", "Legacy_Id__c", ("Legacy_Id__c", "Name", "AnnualRevenue"),
                   [f"A{i}" for i in range(8)], stamp="SystemModstamp",
                   types=(("Legacy_Id__c", "string"), ("Name", "string"), ("AnnualRevenue", "currency")))
    timing = QueryTiming(clock=time.monotonic, sleep=time.sleep)

    def fetch(session, queries: list[str]):
        records = CurrentRecords(Bulk2Client(session), RestClient(session), timing, on_query=queries.append,
                                 kept=org_cache(session, home))
        found = records.fetch(wanted)
        records.save()
        return found.records.set_index("Legacy_Id__c")

    with open_target(target, data_dir=home) as session:
        cold: list[str] = []
        first = fetch(session, cold)
        assert len(cold) == 1 and "Name" in cold[0] and "SystemModstamp" in cold[0]
        http = org.session()
        account = _ids(org, "Account")["A6"]
        url = f"{org.server.instance_url}{API}/sobjects/Account/{account}"
        assert http.patch(url, json={"Name": "Edited"}).status_code == 204
        warm: list[str] = []
        second = fetch(session, warm)
    assert len(warm) == 2
    assert "Name" not in warm[0] and "SystemModstamp" in warm[0]  # phase 1: keys and stamps only
    assert "Name" in warm[1] and "'A6'" in warm[1] and "'A5'" not in warm[1]  # phase 2: what changed since
    assert second.loc["A6", "Name"] == "Edited" and first.loc["A6", "Name"] == "Account 6"
    assert second.drop(index="A6")[["Name", "AnnualRevenue"]].sort_index().equals(
        first.drop(index="A6")[["Name", "AnnualRevenue"]].sort_index())
