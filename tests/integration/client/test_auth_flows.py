"""OAuth flows and session renewal against the local org's real /services/oauth2/token endpoint."""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from migrator.client.auth import (
    AccessTokenCredentials,
    ClientCredentials,
    JwtBearerCredentials,
    RefreshTokenCredentials,
    request_token,
)
from migrator.client.bulk2 import Bulk2Client
from migrator.client.http import ApiSession
from migrator.errors import AuthError
from migrator.localorg.server import LocalOrgServer
from migrator.localorg.settings import OrgSettings


def _calls(bulk: Bulk2Client, count: int) -> None:
    for _ in range(count):
        bulk.create_ingest_job("Account", "insert")


def test_password_flow_renews_expired_sessions(org, bulk, credentials):
    org.set_faults({"expire_token_after": 3})
    _calls(bulk, 10)
    assert credentials.logins >= 3  # first login + at least one renewal per expiry
    assert len(list(bulk.list_ingest_jobs())) == 10


def test_refresh_token_flow_renews_expired_sessions(org, http):
    first = request_token(http, org.instance_url, {"grant_type": "password", "client_id": org.client_id,
                                                   "client_secret": org.client_secret, "username": org.username,
                                                   "password": org.password})
    assert first.refresh_token, "the local org issues a refresh token with the password grant"
    credentials = RefreshTokenCredentials(org.instance_url, org.client_id, first.refresh_token)
    api = ApiSession(http, credentials)
    org.set_faults({"expire_token_after": 2})
    bulk = Bulk2Client(api)
    _calls(bulk, 6)
    assert len(list(bulk.list_ingest_jobs())) == 6


def test_bare_token_expiry_is_an_auth_error(org, http):
    api = ApiSession(http, AccessTokenCredentials(org.instance_url, org.access_token))
    org.set_faults({"expire_token_after": 1})
    bulk = Bulk2Client(api)
    with pytest.raises(AuthError, match="cannot renew"):
        _calls(bulk, 4)


def test_wrong_password_is_refused_with_the_oauth_text(org, http):
    with pytest.raises(AuthError) as caught:
        request_token(http, org.instance_url, {"grant_type": "password", "client_id": org.client_id,
                                               "client_secret": org.client_secret, "username": org.username,
                                               "password": "wrong-password-123"},
                      secrets=["wrong-password-123"])
    assert caught.value.error_code == "invalid_grant"
    assert "wrong-password-123" not in str(caught.value)


def test_jwt_bearer_flow_with_signature_checked(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "ci.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with LocalOrgServer(tmp_path / "jwt.db", settings=OrgSettings(jwt_public_key=public_pem)) as server, \
            requests.Session() as http:
        http.verify = str(server.ca_file)
        good = JwtBearerCredentials(server.instance_url, server.client_id, server.username, key_file)
        api = ApiSession(http, good)
        assert Bulk2Client(api).create_ingest_job("Account", "insert").state == "Open"
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        wrong = JwtBearerCredentials(server.instance_url, server.client_id, server.username, None,
                                     private_key_pem=other_key.private_bytes(
                                         serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode())
        with pytest.raises(AuthError, match="invalid_grant"):
            wrong.authenticate(http)


def test_client_credentials_flow(org, http):
    api = ApiSession(http, ClientCredentials(org.instance_url, org.client_id, org.client_secret))
    org.set_faults({"expire_token_after": 2})
    bulk = Bulk2Client(api)
    _calls(bulk, 5)
    assert len(list(bulk.list_ingest_jobs())) == 5
