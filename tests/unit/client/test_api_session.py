"""ApiSession: bearer header, gzip, one re-authentication on 401 INVALID_SESSION_ID, URL building."""

from __future__ import annotations

import io
import json
import threading

import pytest
import requests

from migrator.client.auth import AccessTokenCredentials, Token
from migrator.client.http import ApiSession
from migrator.errors import AuthError, NotFoundError, TransientApiError
from tests.unit.client.scripted import scripted_session

EXPIRED = (401, json.dumps([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
           {"Content-Type": "application/json"})
OK = (200, '{"ok": true}', {"Content-Type": "application/json"})


class CountingCredentials:
    """Issues token-1, token-2, ... so a test can see which token each request carried."""

    can_refresh = True

    def __init__(self, instance_url: str = "https://org.example"):
        self.instance_url = instance_url
        self.calls = 0
        self.lock = threading.Lock()

    def authenticate(self, session):
        with self.lock:
            self.calls += 1
            return Token(f"token-{self.calls}", self.instance_url, 0.0)

    def secrets(self):
        return tuple(f"token-{n}" for n in range(1, self.calls + 1))


def _bearer(request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


def test_adds_bearer_gzip_and_versioned_path():
    session, adapter = scripted_session(lambda request: OK)
    api = ApiSession(session, CountingCredentials(), api_version="60.0")
    api.request("GET", "jobs/ingest").close()
    sent = adapter.sent[0]
    assert sent.url == "https://org.example/services/data/v60.0/jobs/ingest"
    assert sent.headers["Authorization"] == "Bearer token-1"
    assert sent.headers["Accept-Encoding"] == "gzip"


@pytest.mark.parametrize(("path", "expected"), [
    ("jobs/query/750x/results", "https://org.example/services/data/v62.0/jobs/query/750x/results"),
    ("/services/data/v62.0/jobs/ingest?queryLocator=01g-1000",
     "https://org.example/services/data/v62.0/jobs/ingest?queryLocator=01g-1000"),
    ("https://other.example/services/oauth2/token", "https://other.example/services/oauth2/token"),
])
def test_url_building(path, expected):
    session, _ = scripted_session(lambda request: OK)
    assert ApiSession(session, CountingCredentials()).url(path) == expected


def test_reauthenticates_once_on_invalid_session_and_retries():
    def handler(request):
        return OK if _bearer(request) == "token-2" else EXPIRED

    session, adapter = scripted_session(handler)
    credentials = CountingCredentials()
    api = ApiSession(session, credentials)
    response = api.request("GET", "jobs/ingest/750A", job_id="750A")
    assert response.json() == {"ok": True}
    assert [_bearer(r) for r in adapter.sent] == ["token-1", "token-2"]
    assert credentials.calls == 2


def test_second_401_is_an_auth_error_not_a_loop():
    session, adapter = scripted_session(lambda request: EXPIRED)
    credentials = CountingCredentials()
    with pytest.raises(AuthError) as caught:
        ApiSession(session, credentials).request("GET", "jobs/ingest/750A", job_id="750A")
    assert len(adapter.sent) == 2 and credentials.calls == 2
    assert caught.value.error_code == "INVALID_SESSION_ID" and caught.value.job_id == "750A"
    assert "token-" not in str(caught.value)


def test_other_401_reasons_are_not_retried():
    body = json.dumps([{"errorCode": "API_DISABLED_FOR_ORG", "message": "API is not enabled"}])
    session, adapter = scripted_session(lambda request: (401, body, {"Content-Type": "application/json"}))
    with pytest.raises(AuthError):
        ApiSession(session, CountingCredentials()).request("GET", "jobs/ingest")
    assert len(adapter.sent) == 1


def test_bare_access_token_cannot_be_renewed():
    replies = iter([OK, EXPIRED])
    session, adapter = scripted_session(lambda request: next(replies))
    api = ApiSession(session, AccessTokenCredentials("https://org.example", "00Dsecret!value"))
    api.request("GET", "jobs/ingest")  # the token worked, then it expired
    with pytest.raises(AuthError, match="session expired and these credentials cannot renew") as caught:
        api.request("GET", "jobs/ingest")
    assert len(adapter.sent) == 2
    assert "00Dsecret!value" not in str(caught.value) and "00Dsecret!value" not in repr(api)


def test_a_token_that_never_worked_is_refused_not_expired():
    session, adapter = scripted_session(lambda request: EXPIRED)
    api = ApiSession(session, AccessTokenCredentials("https://org.example", "00Dsecret!value"))
    with pytest.raises(AuthError) as caught:
        api.check_session()
    message = str(caught.value)
    assert "the access token was refused by https://org.example" in message
    assert "expired and" not in message and "cannot renew" not in message
    assert caught.value.error_code == "INVALID_SESSION_ID" and "00Dsecret!value" not in message
    assert [r.path_url for r in adapter.sent] == ["/services/data/v62.0"]


def test_file_body_is_rewound_for_the_retry():
    def handler(request):
        return (201, "", {}) if _bearer(request) == "token-2" else EXPIRED

    session, adapter = scripted_session(handler)
    body = io.BytesIO(b"Name\nAcme\n")
    ApiSession(session, CountingCredentials()).request("PUT", "jobs/ingest/750A/batches", data=body).close()
    assert adapter.bodies == [b"Name\nAcme\n", b"Name\nAcme\n"]


def test_multipart_body_is_sent_whole_again_for_the_retry():
    def handler(request):
        return OK if _bearer(request) == "token-2" else EXPIRED

    session, adapter = scripted_session(handler)
    files = {"job": (None, b'{"object":"Account"}', "application/json"), "content": ("content", b"Name\n", "text/csv")}
    ApiSession(session, CountingCredentials()).request("POST", "jobs/ingest", files=files).close()
    assert [r.headers["Content-Type"].split(";")[0] for r in adapter.sent] == ["multipart/form-data"] * 2
    for body in adapter.bodies:
        assert b'name="job"\r\nContent-Type: application/json\r\n\r\n{"object":"Account"}' in body
        assert b'name="content"; filename="content"\r\nContent-Type: text/csv\r\n\r\nName\n' in body


def test_concurrent_expiry_renews_once():
    """Several threads holding the same expired token: one renewal, everyone retries with it."""
    barrier = threading.Barrier(4)

    def handler(request):
        if _bearer(request) == "token-1":
            barrier.wait(timeout=5)  # all four requests see the expired token together
            return EXPIRED
        return OK

    session, adapter = scripted_session(handler)
    credentials = CountingCredentials()
    api = ApiSession(session, credentials)
    api.authenticate()
    errors: list[BaseException] = []

    def call():
        try:
            api.request("GET", "jobs/ingest").close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert credentials.calls == 2
    assert sorted(_bearer(r) for r in adapter.sent) == ["token-1"] * 4 + ["token-2"] * 4


def test_connection_error_becomes_transient_with_job_id():
    def handler(request):
        raise requests.ConnectionError("connection refused")

    session, _ = scripted_session(handler)
    with pytest.raises(TransientApiError) as caught:
        ApiSession(session, CountingCredentials()).request("GET", "jobs/ingest/750B", job_id="750B")
    assert caught.value.job_id == "750B" and caught.value.status is None


def test_error_status_raises_mapped_error():
    body = json.dumps([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    session, _ = scripted_session(lambda request: (404, body, {"Content-Type": "application/json"}))
    with pytest.raises(NotFoundError):
        ApiSession(session, CountingCredentials()).request("GET", "jobs/ingest/750C")


def test_repr_hides_token():
    session, _ = scripted_session(lambda request: OK)
    api = ApiSession(session, CountingCredentials())
    api.authenticate()
    assert "token-1" not in repr(api) and "token-1" not in repr(api.token)
    assert api.secrets() == ("token-1", "token-1")


def test_bulk1_session_header_and_400_invalid_session_renewal():
    xml = ('<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
           "<exceptionCode>InvalidSessionId</exceptionCode>"
           "<exceptionMessage>Invalid session id</exceptionMessage></error>")

    def handler(request):
        if request.headers.get("X-SFDC-Session") == "token-2":
            return (201, "<jobInfo/>", {"Content-Type": "application/xml"})
        return (400, xml, {"Content-Type": "application/xml"})

    session, adapter = scripted_session(handler)
    api = ApiSession(session, CountingCredentials())
    api.request("POST", f"{api.async_path}/job", session_header=True).close()
    assert [r.headers["X-SFDC-Session"] for r in adapter.sent] == ["token-1", "token-2"]
    assert "Authorization" not in adapter.sent[0].headers
    assert adapter.sent[0].url == "https://org.example/services/async/62.0/job"
