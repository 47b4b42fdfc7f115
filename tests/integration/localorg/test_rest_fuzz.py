"""Fuzzing the REST write resources with hypothesis: sObject rows, collections, composite, batch and tree
with random JSON. Whatever arrives, the answer is never a 500, a successful call answers the shape
its resource promises, and every error is Salesforce-shaped (``[{"errorCode", "message"}]``, or the
tree's ``{"hasErrors": true, "results": [...]}``). The draws are derandomized, the org is this module's own.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.localorg.server import LocalOrgServer
from tests.integration.conftest import org_session

from .support import base

FIELDS = ("Name", "Legacy_Id__c", "Region__c", "Score__c", "Founded__c", "Active__c", "Id", "id", "LastName",
          "AccountId", "Bogus__c", "Account", "Contacts", "attributes", "records", "allOrNone")
TYPES = ("Account", "Contact", "Project__c", "Nope__c", None, 7)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, width=32),
                    st.text(max_size=12), st.sampled_from(["North", "2024-02-30", "2024-01-31", "A-1", "", "#N/A",
                                                           "001000000000000AAA", "@{ref0.id}", "@{nope.x}"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3)),
                    max_leaves=8)


def _record(draw_type: str | int | None, fields: dict, reference: str | None) -> dict:
    attributes: dict = {} if draw_type is None else {"type": draw_type}
    if reference is not None:
        attributes["referenceId"] = reference
    return {"attributes": attributes, **fields} if attributes else fields


NAME = st.text(alphabet="abcXYZ 12", min_size=1, max_size=10).filter(str.strip)
VALID = st.builds(lambda name, extra, reference: _record("Account", {"Name": name, **extra}, reference), NAME,
                  st.dictionaries(st.sampled_from(["Region__c", "Score__c", "Active__c"]), SCALARS, max_size=1),
                  st.sampled_from([None, "r1", "r2"]))
RECORD = st.one_of(VALID, st.builds(_record, st.sampled_from(TYPES),
                                    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
                                    st.one_of(st.none(), st.sampled_from(["r1", "r2", "r1 bad", ""]))))
URLS = ["/services/data/v62.0/sobjects/Account", "/services/data/v62.0/sobjects/Account/@{ref0.id}",
        "/services/data/v62.0/query?q=SELECT+Id+FROM+Account+LIMIT+2", "/services/data/v62.0/composite/sobjects",
        "/services/data/v99.0/limits", "v62.0/limits", "/services/data/v62.0/sobjects/Account/Legacy_Id__c/F-1",
        "/nope"]
SUBREQUEST = st.fixed_dictionaries({
    "method": st.sampled_from(["GET", "POST", "POST", "PATCH", "DELETE", "PUT", "TRACE"]),
    "url": st.sampled_from(URLS),
    "referenceId": st.sampled_from(["ref0", "ref1", "ref2", "ref3", "bad ref", ""]),
}, optional={"body": st.one_of(VALID, JSON), "richInput": st.one_of(VALID, JSON),
             "httpHeaders": st.dictionaries(st.sampled_from(["If-Modified-Since", "X"]), SCALARS)})
WELL_FORMED = st.fixed_dictionaries({  # passes the request checks: the subrequests themselves run
    "method": st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    "url": st.sampled_from([u for u in URLS if u.startswith("/services/data/v62.0")]),
    "referenceId": st.sampled_from(["ref0", "ref1", "ref2", "ref3"]),
}, optional={"body": st.one_of(VALID, JSON), "richInput": st.one_of(VALID, JSON)})
SUBREQUESTS = st.one_of(st.lists(SUBREQUEST, max_size=4, unique_by=lambda sub: sub["referenceId"]),
                        st.lists(WELL_FORMED, min_size=1, max_size=4, unique_by=lambda sub: sub["referenceId"]))
SEEN: Counter[tuple[str, int]] = Counter()  # (path, status class) the fuzzer reached, for the test after it
TARGETS = [
    ("POST", "sobjects/Account"), ("POST", "sobjects/Contact"), ("PATCH", "sobjects/Account/Legacy_Id__c/F-1"),
    ("POST", "sobjects/Account/Id"), ("PATCH", "composite/sobjects/Account/Legacy_Id__c"),
    ("POST", "composite/sobjects"), ("PATCH", "composite/sobjects"), ("POST", "composite/sobjects/Account"),
    ("POST", "composite"), ("POST", "composite/batch"), ("POST", "composite/tree/Account"),
]


@pytest.fixture(scope="module")
def rest_org(tmp_path_factory, legacy_schema_file) -> Iterator[tuple[LocalOrgServer, str]]:
    folder = tmp_path_factory.mktemp("rest-fuzz")
    with LocalOrgServer(folder / "org.db", schema_files=[legacy_schema_file]) as org:
        http = org_session(org)
        seed = http.post(f"{base(org)}/sobjects/Account", json={"Name": "Seed", "Legacy_Id__c": "F-1"}).json()["id"]
        yield org, seed


def _body(data, method: str, path: str, seed: str):
    records = st.lists(RECORD, max_size=4)
    if path == "composite":
        return data.draw(st.one_of(JSON, st.fixed_dictionaries({"compositeRequest": SUBREQUESTS},
                                                               optional={"allOrNone": st.booleans()})))
    if path == "composite/batch":
        return data.draw(st.one_of(JSON, st.fixed_dictionaries({"batchRequests": SUBREQUESTS},
                                                               optional={"haltOnError": st.booleans()})))
    if path.startswith("composite/sobjects/Account") and method == "POST":
        return data.draw(st.fixed_dictionaries({"ids": st.lists(st.sampled_from([seed, "x", seed[:15]]), max_size=3),
                                                "fields": st.lists(st.sampled_from(FIELDS), max_size=3)}))
    if path.startswith("composite"):
        return data.draw(st.one_of(JSON, st.fixed_dictionaries({"records": records},
                                                               optional={"allOrNone": st.booleans()})))
    return data.draw(st.one_of(JSON, RECORD))


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_rest_write_gets_a_500(rest_org, data):
    org, seed = rest_org
    method, path = data.draw(st.sampled_from(TARGETS))
    body = _body(data, method, path, seed)
    raw = json.dumps(body).encode() if data.draw(st.integers(0, 9)) else data.draw(st.binary(max_size=40))
    response = requests.request(method, f"{base(org)}/{path}", data=raw, verify=str(org.ca_file), timeout=30,
                                headers={"Authorization": f"Bearer {org.access_token}",
                                         "Content-Type": "application/json"})
    assert response.status_code < 500, (method, path, raw[:300], response.text[:300])
    SEEN[(path, response.status_code // 100)] += 1
    answer = response.json() if response.content else None
    if path.startswith("composite/tree") and response.status_code in (201, 400) and isinstance(answer, dict):
        assert answer["hasErrors"] is (response.status_code == 400) and isinstance(answer["results"], list)
    elif response.status_code >= 400:
        assert isinstance(answer, list) and {"errorCode", "message"} <= set(answer[0]), answer
    elif path in ("composite/sobjects", "composite/sobjects/Account/Legacy_Id__c"):
        assert isinstance(answer, list) and all({"success", "errors"} <= set(r) for r in answer)
    elif path == "composite":
        assert all({"body", "httpHeaders", "httpStatusCode", "referenceId"} == set(r)
                   for r in answer["compositeResponse"])
    elif path == "composite/batch":
        assert isinstance(answer["hasErrors"], bool) and all({"statusCode", "result"} == set(r)
                                                             for r in answer["results"])


def test_the_fuzzer_reached_successes_and_refusals():
    """Runs after the fuzzer (same module): it got past validation into the engine, and was refused too."""
    for path in ("sobjects/Account", "composite/sobjects", "composite", "composite/batch"):
        assert SEEN[(path, 2)] > 0 and SEEN[(path, 4)] > 0, (path, SEEN)
