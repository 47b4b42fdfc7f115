"""Targets: file parsing, precedence CLI > env > file > defaults, secret rejection, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.client.auth import (
    AccessTokenCredentials,
    ClientCredentials,
    JwtBearerCredentials,
    RefreshTokenCredentials,
    SfCliCredentials,
    UsernamePasswordCredentials,
)
from migrator.config import load_targets, redact, resolve_target
from migrator.errors import ConfigError

TOML = """\
default_target = "dev"

[targets.dev]
auth = "sf-cli"
alias = "my-dev"

[targets.uat]
auth = "password"
login_url = "https://test.salesforce.com"
client_id = "3MVGuat"
username = "ci@example.com.uat"
password_env = "UAT_PASSWORD"
api_version = "60.0"

[targets.ci]
auth = "jwt"
login_url = "https://test.salesforce.com"
client_id = "3MVGci"
username = "ci@example.com"
key_file = "keys/ci.key"

[targets.refresh]
auth = "refresh-token"
client_id = "3MVGrt"

[targets.svc]
auth = "client-credentials"
login_url = "https://acme.my.salesforce.com"
client_id = "3MVGsvc"

[targets.prod]
auth = "token"
instance_url = "https://acme.my.salesforce.com"

[targets.scratch]
auth = "local"
db = "data/scratch.db"
schema = ["schema/custom.yaml"]
"""

SECRETS_ENV = {"UAT_PASSWORD": "uat-p4ssword", "SF_CLIENT_SECRET": "client-s3cret",
               "SF_SECURITY_TOKEN": "sectok123", "SF_REFRESH_TOKEN": "refresh-t0ken",
               "SF_ACCESS_TOKEN": "00Daccess!token", "SF_INSTANCE_URL": "https://env.my.salesforce.com"}


def _project(tmp_path: Path, text: str = TOML, name: str = "migrator.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _resolve(project: Path, name: str | None = None, env: dict | None = None, **cli):
    return resolve_target(name, cli_overrides=cli, env=env or {}, project_dir=project)


# --- defaults and precedence ------------------------------------------------------------------

def test_nothing_configured_means_local(tmp_path):
    target = _resolve(tmp_path)
    assert (target.name, target.kind, target.credentials) == ("local", "local", None)
    assert target.api_version == "62.0"
    assert target.local_db is None and "local org" in target.describe()


def test_env_token_without_name_builds_env_target(tmp_path):
    target = _resolve(tmp_path, env={"SF_ACCESS_TOKEN": "00Dabc!tok", "SF_INSTANCE_URL": "https://x.example/"})
    assert (target.name, target.kind, target.auth, target.instance_url) == ("env", "salesforce", "token",
                                                                            "https://x.example")
    assert isinstance(target.credentials, AccessTokenCredentials)
    assert target.credentials.access_token == "00Dabc!tok"
    for text in (repr(target), target.describe(), str(target.as_dict())):
        assert "00Dabc!tok" not in text


def test_file_default_target_used_when_nothing_else_says(tmp_path):
    target = _resolve(_project(tmp_path))
    assert target.name == "dev" and isinstance(target.credentials, SfCliCredentials)
    assert target.credentials.alias == "my-dev"
    assert "alias my-dev" in target.describe()


def test_env_token_beats_file_default(tmp_path):
    target = _resolve(_project(tmp_path), env=SECRETS_ENV)
    assert target.name == "env"


def test_migrator_target_env_selects_named_target_and_cli_name_wins(tmp_path):
    project = _project(tmp_path)
    env = {**SECRETS_ENV, "MIGRATOR_TARGET": "uat"}
    assert _resolve(project, env=env).name == "uat"
    assert _resolve(project, "scratch", env=env).name == "scratch"


def test_api_version_precedence(tmp_path):
    project = _project(tmp_path, 'api_version = "61.0"\n' + TOML)
    assert _resolve(project, "dev").api_version == "61.0"                   # file, project level
    assert _resolve(project, "uat", env=SECRETS_ENV).api_version == "60.0"  # file, target level
    env = {**SECRETS_ENV, "MIGRATOR_API_VERSION": "59.0"}
    assert _resolve(project, "uat", env=env).api_version == "59.0"          # env beats file
    assert _resolve(project, "uat", env=env, api_version="58.0").api_version == "58.0"  # CLI beats env
    with pytest.raises(ConfigError, match=r"62\.0"):
        _resolve(project, "dev", api_version="v62")


def test_cli_overrides_for_local(tmp_path):
    project = _project(tmp_path)
    target = _resolve(project, "scratch", db="other.db", schema=("a.yaml", "b.yaml"), alias=None)
    assert target.local_db == Path("other.db")
    assert target.local_schema_files == (Path("a.yaml"), Path("b.yaml"))
    with pytest.raises(ConfigError, match="local org only"):
        _resolve(project, "dev", db="x.db")
    with pytest.raises(ConfigError, match="unknown target option"):
        _resolve(project, "dev", password="nope")


# --- each auth kind -------------------------------------------------------------------------------

def test_password_target_reads_secrets_from_named_env(tmp_path):
    target = _resolve(_project(tmp_path), "uat", env=SECRETS_ENV)
    credentials = target.credentials
    assert isinstance(credentials, UsernamePasswordCredentials)
    assert (credentials.login_url, credentials.client_id, credentials.username) == (
        "https://test.salesforce.com", "3MVGuat", "ci@example.com.uat")
    assert (credentials.password, credentials.client_secret, credentials.security_token) == (
        "uat-p4ssword", "client-s3cret", "sectok123")
    shown = repr(target) + target.describe() + str(target.as_dict())
    for secret in ("uat-p4ssword", "client-s3cret", "sectok123"):
        assert secret not in shown
    assert redact(f"oops {credentials.password}", target.secrets()) == "oops ***"


def test_missing_secret_env_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="UAT_PASSWORD, which is not set") as caught:
        _resolve(_project(tmp_path), "uat", env={"SF_CLIENT_SECRET": "client-s3cret"})
    assert "client-s3cret" not in str(caught.value)


def test_jwt_key_file_is_relative_to_the_config_file(tmp_path):
    target = _resolve(_project(tmp_path), "ci")
    assert isinstance(target.credentials, JwtBearerCredentials)
    assert target.credentials.private_key_path == tmp_path / "keys" / "ci.key"
    assert target.username == "ci@example.com"


def test_jwt_key_from_env_when_no_key_file(tmp_path):
    text = '[targets.ci]\nauth = "jwt"\nclient_id = "c"\nusername = "u"\nkey_env = "CI_KEY"\n'
    target = _resolve(_project(tmp_path, text), "ci", env={"CI_KEY": "-----BEGIN PRIVATE KEY-----x"})
    assert target.credentials.private_key_pem.startswith("-----BEGIN")
    assert target.credentials.login_url == "https://login.salesforce.com"
    assert "BEGIN" not in repr(target)


def test_refresh_and_client_credentials_and_token_targets(tmp_path):
    project = _project(tmp_path)
    refresh = _resolve(project, "refresh", env=SECRETS_ENV).credentials
    assert isinstance(refresh, RefreshTokenCredentials)
    assert (refresh.refresh_token, refresh.client_secret) == ("refresh-t0ken", "client-s3cret")
    no_secret = _resolve(project, "refresh", env={"SF_REFRESH_TOKEN": "refresh-t0ken"}).credentials
    assert no_secret.client_secret is None  # optional for the refresh flow
    svc = _resolve(project, "svc", env=SECRETS_ENV).credentials
    assert isinstance(svc, ClientCredentials) and svc.login_url == "https://acme.my.salesforce.com"
    prod = _resolve(project, "prod", env=SECRETS_ENV)
    assert prod.instance_url == "https://acme.my.salesforce.com"
    assert prod.credentials.access_token == "00Daccess!token"


def test_local_target_paths_relative_to_project(tmp_path):
    target = _resolve(_project(tmp_path), "scratch")
    assert target.local_db == tmp_path / "data" / "scratch.db"
    assert target.local_schema_files == (tmp_path / "schema" / "custom.yaml",)


def test_pyproject_tool_migrator(tmp_path):
    text = '[project]\nname = "x"\n\n[tool.migrator.targets.dev]\nauth = "sf-cli"\nalias = "d"\n'
    project = _project(tmp_path, text, "pyproject.toml")
    assert set(load_targets(project)) == {"dev"}
    assert _resolve(project, "dev").credentials.alias == "d"


def test_both_files_with_targets_is_an_error(tmp_path):
    _project(tmp_path, '[tool.migrator.targets.dev]\nauth = "sf-cli"\nalias = "d"\n', "pyproject.toml")
    _project(tmp_path)
    with pytest.raises(ConfigError, match="both"):
        load_targets(tmp_path)


def test_pyproject_without_tool_migrator_is_ignored(tmp_path):
    _project(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert load_targets(tmp_path) == {}


# --- bad files --------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "line"), [("password", 6), ("client_secret", 6), ("access_token", 6),
                                            ("sf_password", 6), ("private_key", 6)])
def test_secrets_in_file_are_refused(tmp_path, key, line):
    text = ('[targets.other]\nauth = "sf-cli"\nalias = "x"\n\n[targets.uat]\n'
            f'{key} = "hunter2-value"\nauth = "password"\n')
    with pytest.raises(ConfigError) as caught:
        load_targets(_project(tmp_path, text))
    message = str(caught.value)
    assert f"migrator.toml:{line}: targets.uat.{key}: secrets must not be stored" in message
    assert f"{key}_env" in message and "hunter2-value" not in message


def test_unknown_key_gets_did_you_mean_and_line(tmp_path):
    text = '[targets.uat]\nauth = "password"\nclient_id = "c"\nusrname = "u"\n'
    with pytest.raises(ConfigError, match=r"migrator.toml:4: targets.uat.usrname: .*did you mean 'username'"):
        load_targets(_project(tmp_path, text))


def test_unknown_target_gets_did_you_mean(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(ConfigError, match=r"unknown target 'uta'.*did you mean 'uat'") as caught:
        _resolve(_project(project), "uta")
    assert "known: ci, dev, local, prod, refresh, scratch, svc, uat" in str(caught.value)
    empty = tmp_path / "empty"  # beside the project, not inside it: no migrator.toml here or above
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"no migrator.toml"):
        _resolve(empty, "dev")


@pytest.mark.parametrize(("text", "pattern"), [
    ('[targets.x]\nalias = "a"\n', r"targets.x.*auth is required"),
    ('[targets.x]\nauth = "oauth"\n', r"migrator.toml:2: targets.x.auth: auth must be one of"),
    ('[targets.local]\nauth = "password"\n', r"give your org another name"),
    ('[targets.x]\nauth = "local"\nschema = "one.yaml"\n', r"must be a list of file paths"),
    ('[targets.x]\nauth = "sf-cli"\nalias = 3\n', r"must be a string, not int"),
    ('[targets.x]\nauth = "sf-cli"\nverify = 1\n', r"true, false or the path"),
    ('default_targte = "x"\n',
     r"migrator.toml:1: unknown setting 'default_targte'; did you mean 'default_target'"),
    ('[targets.x\nauth = 1\n', r"migrator.toml: invalid TOML"),
    ("targets = 3\n", r"must be a table"),
])
def test_bad_files(tmp_path, text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_targets(_project(tmp_path, text))


def test_required_settings_are_named(tmp_path):
    text = '[targets.x]\nauth = "password"\nusername = "u"\n'
    with pytest.raises(ConfigError, match=r"targets.x: 'client_id' is required"):
        _resolve(_project(tmp_path, text), "x", env=SECRETS_ENV)
    with pytest.raises(ConfigError, match=r"'alias' is required"):
        _resolve(_project(tmp_path, '[targets.y]\nauth = "sf-cli"\n'), "y")


def test_verify_path_is_relative_to_project(tmp_path):
    text = '[targets.x]\nauth = "sf-cli"\nalias = "a"\nverify = "certs/ca.pem"\n'
    assert _resolve(_project(tmp_path, text), "x").verify == str(tmp_path / "certs" / "ca.pem")


def test_local_target_pace_is_checked_and_described(tmp_path):
    text = '[targets.paced]\nauth = "local"\npace = "production,speed=5"\n'
    target = _resolve(_project(tmp_path, text), "paced")
    assert target.local_pace == "production,speed=5"
    assert "paced production,speed=5" in target.describe() and target.as_dict()["local_pace"] == target.local_pace
    other = tmp_path / "b"
    other.mkdir()
    with pytest.raises(ConfigError, match=r"migrator.toml:1: targets.bad.pace: pace setting rate needs a number"):
        _resolve(_project(other, '[targets.bad]\nauth = "local"\npace = "rate=fast"\n'), "bad")


def test_the_config_is_found_beside_the_plan_then_upward(tmp_path):
    """Issue 10 item 24: migrator.toml was read from the working directory only."""
    (tmp_path / "repo").mkdir()
    project = _project(tmp_path / "repo")
    plans = project / "plans" / "nested"
    plans.mkdir(parents=True)
    target = _resolve(plans, "scratch")
    assert target.config_file == str(project / "migrator.toml")
    assert target.local_db == project / "data" / "scratch.db"  # relative to the file, not the working directory
    assert target.local_schema_files == (project / "schema" / "custom.yaml",)
    nearer = _project(project / "plans", '[targets.dev]\nauth = "local"\n')
    assert _resolve(plans, "dev").config_file == str(nearer / "migrator.toml")
    assert "dev" in load_targets(plans) and "uat" not in load_targets(plans)


def test_a_pyproject_counts_only_with_a_migrator_table(tmp_path):
    (tmp_path / "repo").mkdir()
    project = _project(tmp_path / "repo")
    inner = tmp_path / "repo" / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[tool.ruff]\nline-length = 100\n', encoding="utf-8")
    assert _resolve(inner, "scratch").config_file == str(project / "migrator.toml")
    (inner / "pyproject.toml").write_text('[tool.migrator.targets.mine]\nauth = "local"\n', encoding="utf-8")
    assert _resolve(inner, "mine").config_file == str(inner / "pyproject.toml")
    (inner / "migrator.toml").write_text('[targets.other]\nauth = "local"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="targets are defined in both"):
        _resolve(inner, "other")


def test_without_any_config_the_target_is_local_and_says_so(tmp_path):
    target = _resolve(tmp_path)
    assert (target.name, target.config_file) == ("local", None)
    assert target.as_dict()["config_file"] is None
