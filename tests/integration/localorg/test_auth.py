"""OAuth token endpoint, identity, and the Bearer check every /services/data call goes through (§7)."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings
from tests.integration.conftest import org_session

from .support import base

TOKEN_KEYS = {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}


@pytest.fixture
def anonymous(local_org) -> requests.Session:
    session = requests.Session()
    session.verify = str(local_org.ca_file)
    return session


def _token(session: requests.Session, org: LocalOrgServer, **form: str) -> requests.Response:
    return session.post(f"{org.instance_url}/services/oauth2/token", data=form)


def _works(org: LocalOrgServer, token: str) -> bool:
    return org_session(org, token).get(f"{base(org)}/limits").status_code == 200


def _app(org: LocalOrgServer) -> dict[str, str]:
    """The org's connected app, as a token request names it."""
    return {"client_id": org.client_id, "client_secret": org.client_secret}


def _assertion(org: LocalOrgServer, key=None, algorithm: str = "RS256", **claims) -> str:
    """A JWT bearer assertion signed with the org's connected-app key unless `key` says otherwise."""
    body = {"iss": org.client_id, "sub": org.username, "aud": org.instance_url, "exp": int(time.time()) + 180,
            **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key if key is not None else org.jwt_key_file.read_text(), algorithm=algorithm)


def test_password_grant_answers_like_salesforce(anonymous, local_org):
    response = _token(anonymous, local_org, grant_type="password", **_app(local_org),
                      username=local_org.username.upper(), password=local_org.password)
    body = response.json()
    assert response.status_code == 200 and TOKEN_KEYS | {"refresh_token"} <= set(body)
    assert body["instance_url"] == local_org.instance_url and body["token_type"] == "Bearer"
    org_id, user_id = local_org.org.identity.org_id, local_org.org.identity.user_id
    assert body["id"] == f"{local_org.instance_url}/id/{org_id}/{user_id}"
    assert body["access_token"].startswith(f"{org_id}!") and len(org_id) == 18 and org_id.startswith("00D")
    assert abs(int(body["issued_at"]) - time.time() * 1000) < 60_000
    assert len(base64.b64decode(body["signature"])) == 32
    assert _works(local_org, body["access_token"])
    refreshed = _token(anonymous, local_org, grant_type="refresh_token", client_id=local_org.client_id,
                       refresh_token=body["refresh_token"]).json()
    assert set(refreshed) >= TOKEN_KEYS and "refresh_token" not in refreshed
    assert refreshed["access_token"] != body["access_token"] and _works(local_org, refreshed["access_token"])


def test_client_credentials_and_basic_auth(anonymous, local_org):
    body = _token(anonymous, local_org, grant_type="client_credentials", **_app(local_org)).json()
    assert _works(local_org, body["access_token"])
    basic = anonymous.post(f"{local_org.instance_url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                           auth=(local_org.client_id, local_org.client_secret))
    assert basic.status_code == 200 and _works(local_org, basic.json()["access_token"])


def test_the_connected_app_is_stable_for_a_database_and_differs_between_orgs(tmp_path, local_org):
    with LocalOrgServer(tmp_path / "other.db") as other:
        assert (other.client_id, other.client_secret) != (local_org.client_id, local_org.client_secret)
        first = (other.client_id, other.client_secret, other.jwt_key_file.read_bytes())
    with LocalOrgServer(tmp_path / "other.db") as again:
        assert (again.client_id, again.client_secret, again.jwt_key_file.read_bytes()) == first
        assert again.client_id.startswith("3MVG9") and len(again.client_secret) == 64
        assert again.jwt_key_file.stat().st_mode & 0o077 == 0, "the private key is readable by its owner only"


def test_jwt_bearer_grant_with_the_connected_app_key(anonymous, local_org):
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    for audience in (local_org.instance_url, "https://login.salesforce.com", "https://test.salesforce.com"):
        body = _token(anonymous, local_org, grant_type=grant, assertion=_assertion(local_org, aud=audience)).json()
        assert _works(local_org, body["access_token"]), audience


def test_no_token_without_the_connected_app_secret(anonymous, local_org):
    """Issue 10 item 27: any client id, no secret, a wrong secret were all enough for a token."""
    cases = [
        ({"grant_type": "client_credentials", "client_id": "anyone"}, "invalid_client_id", "client identifier invalid"),
        ({"grant_type": "client_credentials", "client_id": local_org.client_id}, "invalid_client",
         "invalid client credentials"),
        ({"grant_type": "client_credentials", "client_id": local_org.client_id, "client_secret": "guess"},
         "invalid_client", "invalid client credentials"),
        ({"grant_type": "password", "client_id": "cli", "client_secret": "s", "username": local_org.username,
          "password": local_org.password}, "invalid_client_id", "client identifier invalid"),
        ({"grant_type": "password", "client_id": local_org.client_id, "username": local_org.username,
          "password": local_org.password}, "invalid_client", "invalid client credentials"),
        ({"grant_type": "refresh_token", "client_id": "cli", "refresh_token": "5Aep-x"}, "invalid_client_id",
         "client identifier invalid"),
    ]
    for form, error, description in cases:
        response = _token(anonymous, local_org, **form)
        assert (response.status_code, response.json()) == (400, {"error": error, "error_description": description}), \
            form
    basic = anonymous.post(f"{local_org.instance_url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                           auth=(local_org.client_id, "not-the-secret"))
    assert basic.status_code == 400 and basic.json()["error"] == "invalid_client"


def test_jwt_assertions_the_org_cannot_verify_are_refused(anonymous, local_org):
    """Issue 10 item 27: ``alg: none`` and garbage signatures were accepted."""
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    good = _assertion(local_org)
    head, payload, _ = good.split(".")
    unsigned = jwt.encode(jwt.decode(good, options={"verify_signature": False}), None, algorithm="none")
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "alg none": unsigned,
        "alg none, no signature part": unsigned.rstrip("."),
        "garbage signature": f"{head}.{payload}.{base64.urlsafe_b64encode(b'garbage' * 20).decode().rstrip('=')}",
        "HS256 with a guessable key": _assertion(local_org, key="k" * 32, algorithm="HS256"),
        "signed by another key": _assertion(local_org, key=stranger_key),
        "no exp": _assertion(local_org, exp=None),
        "not a JWT": "not.a.jwt",
    }
    for what, assertion in refused.items():
        response = _token(anonymous, local_org, grant_type=grant, assertion=assertion)
        assert (response.status_code, response.json()) == (
            400, {"error": "invalid_grant", "error_description": "invalid assertion"}), what
    claims_refused = [
        (_assertion(local_org, iss="someone-else"), "invalid_client_id", "client identifier invalid"),
        (_assertion(local_org, aud="https://evil.example"), "invalid_grant", "audience is invalid"),
        (_assertion(local_org, sub="stranger@x.org"), "invalid_grant", "user hasn't approved this consumer"),
        (_assertion(local_org, exp=int(time.time()) - 600), "invalid_grant", "expired authorization code"),
    ]
    for assertion, error, description in claims_refused:
        response = _token(anonymous, local_org, grant_type=grant, assertion=assertion)
        assert (response.status_code, response.json()) == (400, {"error": error, "error_description": description})


@pytest.mark.parametrize(("form", "error", "description"), [
    ({"grant_type": "password", "username": "admin@local.org", "password": "wrong"}, "invalid_grant",
     "authentication failure"),
    ({"grant_type": "password", "username": "someone@else.org", "password": "x"}, "invalid_grant",
     "authentication failure"),
    ({"grant_type": "refresh_token", "refresh_token": "5Aep-not-a-token"}, "invalid_grant",
     "expired access/refresh token"),
    ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type", "grant type not supported"),
    ({}, "unsupported_grant_type", "grant type not supported"),
])
def test_token_errors(anonymous, local_org, form, error, description):
    if form.get("grant_type") in ("password", "refresh_token"):
        form = {**form, **_app(local_org)}
    response = _token(anonymous, local_org, **form)
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_unreadable_token_requests(anonymous, local_org):
    url = f"{local_org.instance_url}/services/oauth2/token"
    not_utf8 = anonymous.post(url, data=b"grant_type=password&username=\xff",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (not_utf8.status_code, not_utf8.json()["error"]) == (400, "invalid_request")
    bad_basic = anonymous.post(url, data={"grant_type": "client_credentials"},
                               headers={"Authorization": "Basic !!!not-base64"})
    assert (bad_basic.status_code, bad_basic.json()) == (400, {"error": "invalid_client",
                                                                "error_description": "invalid client credentials"})


def test_jwt_signature_is_checked_against_a_configured_certificate(tmp_path, legacy_schema_file):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with LocalOrgServer(tmp_path / "org.db", settings=OrgSettings(jwt_public_key=public)) as org:
        session = requests.Session()
        session.verify = str(org.ca_file)
        grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        good = _assertion(org, key=key, aud="https://login.salesforce.com")
        assert _works(org, _token(session, org, grant_type=grant, assertion=good).json()["access_token"])
        own_key = _assertion(org)  # the org's own key is not the one it was told to trust
        assert _token(session, org, grant_type=grant, assertion=own_key).json()["error"] == "invalid_grant"


def test_bad_or_missing_tokens_are_401(anonymous, local_org):
    expected = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": f"Bearer {local_org.access_token}x"}):
        response = anonymous.get(f"{base(local_org)}/jobs/ingest", headers=headers)
        assert (response.status_code, response.json()) == (401, expected)
        assert "Sforce-Limit-Info" in response.headers
    assert anonymous.get(f"{base(local_org)}/limits",
                         headers={"Authorization": f"OAuth {local_org.access_token}"}).status_code == 200


def test_revoke(anonymous, local_org):
    token = _token(anonymous, local_org, grant_type="password", username=local_org.username,
                   password=local_org.password, **_app(local_org)).json()["access_token"]
    assert anonymous.post(f"{local_org.instance_url}/services/oauth2/revoke", data={"token": token}).status_code == 200
    assert not _works(local_org, token)
    again = anonymous.post(f"{local_org.instance_url}/services/oauth2/revoke", data={"token": token})
    assert again.status_code == 400 and again.json()["error"] == "unsupported_token_type"


def test_userinfo_and_identity(http, local_org):
    info = http.get(f"{local_org.instance_url}/services/oauth2/userinfo").json()
    assert info["preferred_username"] == local_org.username and info["organization_id"].startswith("00D")
    identity_url = http.get(f"{base(local_org)}/").json()["identity"]
    identity = http.get(identity_url).json()
    assert (identity["username"], identity["user_id"]) == (local_org.username, info["user_id"])
    wrong_org = http.get(f"{local_org.instance_url}/id/00D000000000000AAA/{info['user_id']}")
    assert wrong_org.status_code == 403
    no_user = http.get(f"{local_org.instance_url}/id/{info['organization_id']}/005000000000000AAA")
    assert no_user.status_code == 404
    assert requests.get(f"{local_org.instance_url}/services/oauth2/userinfo",
                        verify=str(local_org.ca_file)).status_code == 401
