"""Credential flows: JWT contents, sf CLI parsing, OAuth error handling, redaction of every secret."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from migrator.client.auth import (
    JWT_BEARER_GRANT,
    AccessTokenCredentials,
    ClientCredentials,
    JwtBearerCredentials,
    RefreshTokenCredentials,
    SfCliCredentials,
    Token,
    UsernamePasswordCredentials,
    jwt_audience,
)
from migrator.client.error_mapping import redact
from migrator.errors import AuthError, ConfigError, TransientApiError
from tests.unit.client.scripted import scripted_session

NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def rsa_keys():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def test_redact_replaces_longest_first_and_ignores_tiny_values():
    text = "pw=hunter22 token=hunter22XYZ a=1"
    assert redact(text, ["hunter22", "hunter22XYZ", "1", None, ""]) == "pw=*** token=*** a=1"


@pytest.mark.parametrize(("login_url", "audience"), [
    ("https://login.salesforce.com", "https://login.salesforce.com"),
    ("https://test.salesforce.com/", "https://test.salesforce.com"),
    ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
    ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ("https://127.0.0.1:8443/", "https://127.0.0.1:8443"),
])
def test_jwt_audience(login_url, audience):
    assert jwt_audience(login_url) == audience


def test_jwt_assertion_claims_signed_with_the_key(tmp_path, rsa_keys):
    private_pem, public_pem = rsa_keys
    key_file = tmp_path / "server.key"
    key_file.write_text(private_pem)
    credentials = JwtBearerCredentials("https://test.salesforce.com", "3MVG9consumer", "ci@example.com.uat",
                                       key_file, clock=lambda: NOW)
    assertion = credentials.assertion()
    claims = jwt.decode(assertion, public_pem, algorithms=["RS256"], audience="https://test.salesforce.com",
                        options={"verify_exp": False})
    assert claims == {"iss": "3MVG9consumer", "sub": "ci@example.com.uat", "aud": "https://test.salesforce.com",
                      "exp": int(NOW) + 180}
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"


def test_jwt_explicit_audience_and_pem_from_env(rsa_keys):
    private_pem, public_pem = rsa_keys
    credentials = JwtBearerCredentials("https://acme.my.salesforce.com", "cid", "u@x", None,
                                       audience="https://community.example", private_key_pem=private_pem,
                                       clock=lambda: NOW)
    claims = jwt.decode(credentials.assertion(), public_pem, algorithms=["RS256"],
                        audience="https://community.example", options={"verify_exp": False})
    assert claims["aud"] == "https://community.example"
    assert "PRIVATE KEY" not in repr(credentials)


def test_jwt_missing_or_bad_key_is_a_config_error(tmp_path):
    missing = JwtBearerCredentials("https://login.salesforce.com", "cid", "u@x", tmp_path / "nope.key")
    with pytest.raises(ConfigError, match=r"nope\.key"):
        missing.assertion()
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match=r"bad\.key"):
        JwtBearerCredentials("https://login.salesforce.com", "cid", "u@x", bad).assertion()


def test_jwt_flow_posts_assertion_grant(tmp_path, rsa_keys):
    private_pem, public_pem = rsa_keys
    answer = {"access_token": "00Dnew!access", "instance_url": "https://acme.my.salesforce.com/",
              "token_type": "Bearer", "id": "https://login.salesforce.com/id/00D/005"}
    session, adapter = scripted_session(lambda request: (200, json.dumps(answer), {}))
    credentials = JwtBearerCredentials("https://login.salesforce.com", "cid", "u@x", None,
                                       private_key_pem=private_pem, clock=lambda: NOW)
    token = credentials.authenticate(session)
    assert token == Token("00Dnew!access", "https://acme.my.salesforce.com", NOW)
    form = parse_qs(adapter.sent[0].body)
    assert adapter.sent[0].url == "https://login.salesforce.com/services/oauth2/token"
    assert form["grant_type"] == [JWT_BEARER_GRANT]
    jwt.decode(form["assertion"][0], public_pem, algorithms=["RS256"], audience="https://login.salesforce.com",
               options={"verify_exp": False})


def test_password_flow_sends_password_plus_security_token_and_reads_issued_at():
    answer = {"access_token": "00Dtok", "instance_url": "https://na1.example", "issued_at": "1700000000123"}
    session, adapter = scripted_session(lambda request: (200, json.dumps(answer), {}))
    credentials = UsernamePasswordCredentials("https://login.salesforce.com", "cid", "csecret-value",
                                              "u@x", "p4ssword", "SECTOKEN")
    token = credentials.authenticate(session)
    assert token.issued_at == pytest.approx(1_700_000_000.123)
    form = parse_qs(adapter.sent[0].body)
    assert form["password"] == ["p4sswordSECTOKEN"] and form["grant_type"] == ["password"]
    text = repr(credentials)
    for secret in ("csecret-value", "p4ssword", "SECTOKEN"):
        assert secret not in text


def test_oauth_error_becomes_auth_error_with_its_text():
    body = json.dumps({"error": "invalid_grant", "error_description": "authentication failure"})
    session, _ = scripted_session(lambda request: (400, body, {"Content-Type": "application/json"}))
    credentials = UsernamePasswordCredentials("https://login.salesforce.com", "cid", "sec-ret", "u@x",
                                              "p4ssword")
    with pytest.raises(AuthError) as caught:
        credentials.authenticate(session)
    assert caught.value.error_code == "invalid_grant"
    assert "invalid_grant: authentication failure" in str(caught.value)


def test_oauth_non_json_error_is_redacted():
    session, _ = scripted_session(lambda request: (400, "echo: p4ssword", {"Content-Type": "text/plain"}))
    credentials = UsernamePasswordCredentials("https://login.salesforce.com", "cid", "sec-ret", "u@x",
                                              "p4ssword")
    with pytest.raises(AuthError) as caught:
        credentials.authenticate(session)
    assert "p4ssword" not in str(caught.value) and "***" in str(caught.value)


def test_token_endpoint_outage_is_transient():
    session, _ = scripted_session(lambda request: (503, "<html>down</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientApiError):
        ClientCredentials("https://acme.my.salesforce.com", "cid", "sec-ret").authenticate(session)


def test_refresh_token_flow_keeps_rotated_refresh_token():
    answer = {"access_token": "00Dtok", "instance_url": "https://na1.example", "refresh_token": "rt-rotated"}
    session, adapter = scripted_session(lambda request: (200, json.dumps(answer), {}))
    credentials = RefreshTokenCredentials("https://login.salesforce.com", "cid", "rt-original")
    credentials.authenticate(session)
    form = parse_qs(adapter.sent[0].body)
    assert form["refresh_token"] == ["rt-original"] and "client_secret" not in form
    assert credentials.refresh_token == "rt-rotated"
    assert "rt-rotated" not in repr(credentials)


def test_access_token_credentials_cannot_refresh_and_hide_token():
    credentials = AccessTokenCredentials("https://na1.example/", "00Dsecret!abc")
    assert credentials.can_refresh is False
    assert credentials.authenticate(None).instance_url == "https://na1.example"
    assert "00Dsecret!abc" not in repr(credentials)


# --- sf CLI ---------------------------------------------------------------------------------------

def _runner(stdout: str, returncode: int = 0, calls: list | None = None):
    def run(argv):
        if calls is not None:
            calls.append(argv)
        return subprocess.CompletedProcess(argv, returncode, stdout=stdout, stderr="")
    return run


def test_sf_cli_parses_org_display():
    payload = {"status": 0, "result": {"id": "00D", "accessToken": "00D!clitoken", "instanceUrl":
                                       "https://acme.my.salesforce.com/", "username": "u@x",
                                       "connectedStatus": "Connected"}}
    calls: list = []
    credentials = SfCliCredentials("my-dev", runner=_runner(json.dumps(payload), calls=calls),
                                   clock=lambda: NOW)
    token = credentials.authenticate(None)
    assert token == Token("00D!clitoken", "https://acme.my.salesforce.com", NOW)
    assert calls == [["sf", "org", "display", "--json", "--target-org", "my-dev"]]
    assert credentials.secrets() == ("00D!clitoken",)
    assert "00D!clitoken" not in repr(credentials)


def test_sf_cli_error_payload():
    payload = {"status": 1, "name": "NoAuthInfoFound", "message": "No authorization information found for x."}
    credentials = SfCliCredentials("x", runner=_runner(json.dumps(payload), returncode=1))
    with pytest.raises(AuthError, match="NoAuthInfoFound: No authorization information") as caught:
        credentials.authenticate(None)
    assert caught.value.error_code == "NoAuthInfoFound"


def test_sf_cli_garbage_output_is_never_echoed():
    credentials = SfCliCredentials("x", runner=_runner("Warning 00D!leaked-token not json", returncode=0))
    with pytest.raises(AuthError) as caught:
        credentials.authenticate(None)
    assert "leaked" not in str(caught.value)


def test_sf_cli_missing_token():
    payload = {"status": 0, "result": {"instanceUrl": "https://a.example",
                                       "connectedStatus": "RefreshTokenAuthError"}}
    with pytest.raises(AuthError, match="RefreshTokenAuthError"):
        SfCliCredentials("x", runner=_runner(json.dumps(payload))).authenticate(None)


def test_sf_cli_not_installed(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ConfigError, match="not on PATH"):
        SfCliCredentials("x", sf_command="sf-definitely-missing").authenticate(None)


def test_sf_cli_runner_failure():
    def broken(argv):
        raise FileNotFoundError(2, "No such file")

    with pytest.raises(AuthError, match="could not run"):
        SfCliCredentials("x", runner=broken).authenticate(None)
