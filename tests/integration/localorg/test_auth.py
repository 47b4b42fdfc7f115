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


def test_password_grant_answers_like_salesforce(anonymous, local_org):
    response = _token(anonymous, local_org, grant_type="password", client_id="cli", client_secret="s",
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
    refreshed = _token(anonymous, local_org, grant_type="refresh_token", client_id="cli",
                       refresh_token=body["refresh_token"]).json()
    assert set(refreshed) >= TOKEN_KEYS and "refresh_token" not in refreshed
    assert refreshed["access_token"] != body["access_token"] and _works(local_org, refreshed["access_token"])


def test_client_credentials_and_basic_auth(anonymous, local_org):
    body = _token(anonymous, local_org, grant_type="client_credentials", client_id="app", client_secret="x").json()
    assert _works(local_org, body["access_token"])
    basic = anonymous.post(f"{local_org.instance_url}/services/oauth2/token", data={"grant_type": "client_credentials"},
                           auth=("app", "secret"))
    assert basic.status_code == 200


def test_jwt_bearer_grant(anonymous, local_org):
    claims = {"iss": "consumer", "sub": local_org.username, "aud": "https://login.salesforce.com",
              "exp": int(time.time()) + 180}
    assertion = jwt.encode(claims, "any key: signatures are not checked without a public key", algorithm="HS256")
    body = _token(anonymous, local_org, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
                  assertion=assertion).json()
    assert _works(local_org, body["access_token"])


@pytest.mark.parametrize(("form", "error", "description"), [
    ({"grant_type": "password", "username": "admin@local.org", "password": "wrong"}, "invalid_grant",
     "authentication failure"),
    ({"grant_type": "password", "username": "someone@else.org", "password": "x"}, "invalid_grant",
     "authentication failure"),
    ({"grant_type": "refresh_token", "refresh_token": "5Aep-not-a-token"}, "invalid_grant",
     "expired access/refresh token"),
    ({"grant_type": "client_credentials"}, "invalid_client_id", "client identifier invalid"),
    ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type", "grant type not supported"),
    ({}, "unsupported_grant_type", "grant type not supported"),
    ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "not.a.jwt"}, "invalid_grant",
     "invalid assertion"),
])
def test_token_errors(anonymous, local_org, form, error, description):
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


def test_jwt_errors(anonymous, local_org):
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    stranger = jwt.encode({"sub": "stranger@x.org", "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256")
    assert _token(anonymous, local_org, grant_type=grant, assertion=stranger).json()["error_description"] == \
        "user hasn't approved this consumer"
    expired = jwt.encode({"sub": local_org.username, "exp": int(time.time()) - 600}, "k" * 32, algorithm="HS256")
    assert _token(anonymous, local_org, grant_type=grant, assertion=expired).json() == \
        {"error": "invalid_grant", "error_description": "expired authorization code"}


def test_jwt_signature_is_checked_when_a_public_key_is_configured(tmp_path, legacy_schema_file):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with LocalOrgServer(tmp_path / "org.db", settings=OrgSettings(jwt_public_key=public)) as org:
        session = requests.Session()
        session.verify = str(org.ca_file)
        claims = {"sub": org.username, "iss": "c", "aud": "https://login.salesforce.com", "exp": int(time.time()) + 60}
        grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        good = jwt.encode(claims, key, algorithm="RS256")
        assert _works(org, _token(session, org, grant_type=grant, assertion=good).json()["access_token"])
        forged = jwt.encode(claims, other, algorithm="RS256")
        assert _token(session, org, grant_type=grant, assertion=forged).json()["error"] == "invalid_grant"


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
                   password=local_org.password).json()["access_token"]
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
