"""Targets: where data goes, and how to authenticate there.

Named targets live in ``migrator.toml`` (or ``[tool.migrator]`` in pyproject.toml), found beside
the plan or in the nearest folder above it, as git, ruff and pytest find theirs (see
`plan.project`). Precedence is CLI > environment > file > defaults, and with nothing configured the
target is ``local``: the embedded local org, started in-process, so a fresh install can run a plan
with no set-up. A resolved `Target` says which file it came from (`config_file`).

Secrets (passwords, client secrets, tokens, private keys) never live in the file: a target names
the environment variables that hold them (``password_env = "SF_PASSWORD"``), and a secret written
into the file is refused outright. `Target.describe()` and ``repr`` show no secret.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import requests

from migrator.client.auth import (
    AccessTokenCredentials,
    ClientCredentials,
    Credentials,
    JwtBearerCredentials,
    RefreshTokenCredentials,
    SfCliCredentials,
    UsernamePasswordCredentials,
)
from migrator.client.error_mapping import redact
from migrator.client.http import DEFAULT_API_VERSION, DEFAULT_TIMEOUT, ApiSession
from migrator.compile.readers.base import Database
from migrator.errors import ConfigError
from migrator.fake.masks import MaskKey
from migrator.localorg.pacing import PaceSpec, PaceSpecError
from migrator.plan import project as plan_project
from migrator.plan.source_kinds import sqlite_path, url_password

__all__ = ["MigrationsConfig", "Target", "TargetConfig", "load_databases", "load_migrations_config", "load_targets",
           "mask_key", "open_target", "redact", "resolve_target"]

CONFIG_FILE = plan_project.CONFIG_FILE
LOCAL = "local"
ENV_TARGET = "env"
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
LOCAL_DB_NAME = "local-org.db"

TOP_LEVEL_KEYS = frozenset({"default_target", "api_version", "targets", "migrations", "databases"})
DATABASE_KEYS = frozenset({"url", "url_env", "password_env", "description"})
MIGRATIONS_KEYS = frozenset({"dir", "history"})
HISTORY_STORES = ("org", "file")
COMMON_KEYS = frozenset({"auth", "api_version", "verify", "description", "mask_secret_env"})
MASK_SECRET_ENV = "MIGRATOR_MASK_SECRET"  # the masking secret, unless the target names another variable
KEYS_BY_AUTH: dict[str, frozenset[str]] = {
    "local": frozenset({"db", "schema", "pace"}),
    "token": frozenset({"instance_url", "access_token_env"}),
    "sf-cli": frozenset({"alias"}),
    "password": frozenset({"login_url", "client_id", "client_secret_env", "username", "password_env",
                           "security_token_env"}),
    "jwt": frozenset({"login_url", "client_id", "username", "key_file", "key_env", "audience"}),
    "refresh-token": frozenset({"login_url", "client_id", "refresh_token_env", "client_secret_env"}),
    "client-credentials": frozenset({"login_url", "client_id", "client_secret_env"}),
}
DEFAULT_SECRET_ENV = {"access_token_env": "SF_ACCESS_TOKEN", "password_env": "SF_PASSWORD",
                      "client_secret_env": "SF_CLIENT_SECRET", "security_token_env": "SF_SECURITY_TOKEN",
                      "refresh_token_env": "SF_REFRESH_TOKEN", "key_env": "SF_JWT_KEY"}
_SECRET_WORDS = ("password", "secret", "token", "private_key", "assertion")
CLI_OVERRIDE_KEYS = frozenset({"api_version", "db", "schema", "verify", "instance_url", "login_url",
                               "username", "alias"})


@dataclass(frozen=True)
class TargetConfig:
    """One ``[targets.NAME]`` table as written, checked for shape but not yet resolved."""

    name: str
    auth: str
    settings: Mapping[str, Any]
    file: Path
    line: int | None = None


@dataclass(frozen=True)
class ProjectConfig:
    file: Path | None = None
    default_target: str | None = None
    api_version: str | None = None
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A resolved target, ready for `open_target`. Its repr and `describe()` show no secret."""

    name: str
    kind: Literal["local", "salesforce"]
    credentials: Credentials | None = None
    api_version: str = DEFAULT_API_VERSION
    instance_url: str | None = None
    login_url: str | None = None
    username: str | None = None
    local_db: Path | None = None
    local_schema_files: tuple[Path, ...] = ()
    local_pace: str | None = None  # the local org's pacing spec (docs/local-org.md), e.g. "production"
    verify: bool | str = True
    auth: str = LOCAL
    source: str = "default"
    config_file: str | None = None  # the migrator.toml (or pyproject.toml) consulted, if one was found

    def describe(self) -> str:
        """One line for people: what, where, how authenticated; never a secret."""
        if self.kind == "local":
            db = str(self.local_db) if self.local_db else f".migrator/{LOCAL_DB_NAME}"
            files = ", ".join(map(str, self.local_schema_files))
            schema = f", schema {files}" if files else ""
            pace = f", paced {self.local_pace}" if self.local_pace else ""
            return f"{self.name} (local org, database {db}{schema}{pace})"
        how = f"{self.auth} auth"
        if isinstance(self.credentials, SfCliCredentials):
            how += f" via sf CLI alias {self.credentials.alias}"
        if self.username:
            how += f" as {self.username}"
        where = self.instance_url or self.login_url
        return f"{self.name} (Salesforce{' ' + where if where else ''}, {how}, API v{self.api_version})"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "auth": self.auth, "api_version": self.api_version,
                "instance_url": self.instance_url, "login_url": self.login_url, "username": self.username,
                "local_db": str(self.local_db) if self.local_db else None,
                "local_schema_files": [str(p) for p in self.local_schema_files], "local_pace": self.local_pace,
                "source": self.source, "config_file": self.config_file}

    def secrets(self) -> tuple[str, ...]:
        return self.credentials.secrets() if self.credentials else ()


# --- reading the file -----------------------------------------------------------------------------


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _line_of(text: str, pattern: str, start: int = 0) -> int | None:
    """1-based line of the first line at or after `start` (0-based) matching `pattern`."""
    lines = text.splitlines()
    for index in range(start, len(lines)):
        if re.match(pattern, lines[index]):
            return index + 1
    return None


def _read_config_file(start: Path) -> tuple[Path, str, dict[str, Any], str] | None:
    """(file, text, the migrator table, table prefix) of the configuration for folder `start`:
    migrator.toml or pyproject.toml's [tool.migrator], in `start` or the nearest folder above."""
    nearest = plan_project.find_config(start)
    if nearest is None:
        return None
    folder = nearest.parent
    found: list[tuple[Path, str, dict[str, Any], str]] = []
    for file, prefix in ((folder / CONFIG_FILE, ""), (folder / plan_project.PYPROJECT, "tool.migrator.")):
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from None
        table = data.get("tool", {}).get("migrator") if prefix else data
        if table is not None:
            found.append((file, text, table, prefix))
    if len(found) == 2 and found[1][2].get("targets"):
        raise ConfigError(f"targets are defined in both {found[0][0]} and [tool.migrator] of {found[1][0]}; "
                          "keep them in one place")
    return found[0] if found else None


def load_project_config(project_dir: Path) -> ProjectConfig:
    """The configuration for a plan in `project_dir` (found there or in a folder above it)."""
    read = _read_config_file(project_dir)
    if read is None:
        return ProjectConfig()
    file, text, table, prefix = read
    for key in table:
        if key not in TOP_LEVEL_KEYS:
            line = (_line_of(text, rf"\s*{re.escape(key)}\s*=")
                    or _line_of(text, rf"\s*\[{re.escape(prefix + key)}"))
            hint = _did_you_mean(key, TOP_LEVEL_KEYS)
            raise ConfigError(f"{file}:{line or '?'}: unknown setting '{key}'{hint}")
    targets_table = table.get("targets", {})
    if not isinstance(targets_table, dict):
        raise ConfigError(f"{file}: 'targets' must be a table of [targets.NAME] tables")
    targets = {name: _check_target(name, settings, file, text, prefix)
               for name, settings in targets_table.items()}
    for key in ("default_target", "api_version"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{file}: {key} must be a string")
    return ProjectConfig(file, table.get("default_target"), table.get("api_version"), targets)


def load_targets(project_dir: Path) -> dict[str, TargetConfig]:
    """Every named target of the project's config file (empty without one), shape-checked; the
    file is looked for in `project_dir`, then upward."""
    return dict(load_project_config(project_dir).targets)


def _check_target(name: str, settings: Any, file: Path, text: str, prefix: str) -> TargetConfig:
    header = _line_of(text, rf"\s*\[\s*{re.escape(prefix)}targets\.\"?{re.escape(name)}\"?\s*\]")

    def fail(key: str | None, message: str) -> ConfigError:
        line = _line_of(text, rf"\s*{re.escape(key)}\s*=", header or 0) if key and header else header
        path = f"targets.{name}" + (f".{key}" if key else "")
        return ConfigError(f"{file}:{line or '?'}: {path}: {message}")

    if not isinstance(settings, dict):
        raise fail(None, "must be a table")
    for key in settings:
        if not key.endswith("_env") and any(word in key for word in _SECRET_WORDS):
            env_key = f"{key}_env"
            variable = DEFAULT_SECRET_ENV.get(env_key, "MY_VAR")
            raise fail(key, f"secrets must not be stored in {file.name}; put the value in an environment "
                            f"variable and name it here: {env_key} = \"{variable}\"")
    auth = settings.get("auth", LOCAL if name == LOCAL else None)
    if auth not in KEYS_BY_AUTH:
        choices = ", ".join(sorted(KEYS_BY_AUTH))
        raise fail("auth", f"auth must be one of {choices}, not {auth!r}" if auth
                   else f"auth is required ({choices})")
    allowed = COMMON_KEYS | KEYS_BY_AUTH[auth]
    for key, value in settings.items():
        if key not in allowed:
            raise fail(key, f"unknown setting for auth = \"{auth}\"{_did_you_mean(key, allowed)}")
        if key == "schema":
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise fail(key, "must be a list of file paths")
        elif key == "verify":
            if not isinstance(value, bool | str):
                raise fail(key, "must be true, false or the path of a CA bundle")
        elif not isinstance(value, str):
            raise fail(key, f"must be a string, not {type(value).__name__}")
    if name == LOCAL and auth != LOCAL:
        raise fail("auth", "the target named 'local' is the local org; give your org another name")
    return TargetConfig(name, auth, dict(settings), file, header)


@dataclass(frozen=True)
class MigrationsConfig:
    """The ``[migrations]`` table: the folder of versioned plans (relative to the config file) and
    where the history is kept (``org``: the org's Migrator_Migration__c records; ``file``: a JSON
    file per org id under ``<dir>/history/``). `dir` is None when the file does not name one."""

    dir: Path | None = None
    history: str | None = None
    file: Path | None = None


def load_migrations_config(project_dir: Path) -> MigrationsConfig:
    """The project's ``[migrations]`` settings, shape-checked; empty without a config file or table."""
    read = _read_config_file(project_dir)
    if read is None:
        return MigrationsConfig()
    file, text, table, prefix = read
    settings = table.get("migrations")
    if settings is None:
        return MigrationsConfig()
    header = _line_of(text, rf"\s*\[\s*{re.escape(prefix)}migrations\s*\]")
    if not isinstance(settings, dict):
        raise ConfigError(f"{file}:{header or '?'}: migrations must be a table: [migrations] dir = \"migrations\"")

    def fail(key: str, message: str) -> ConfigError:
        line = _line_of(text, rf"\s*{re.escape(key)}\s*=", header or 0) if header else None
        return ConfigError(f"{file}:{line or '?'}: migrations.{key}: {message}")

    for key, value in settings.items():
        if key not in MIGRATIONS_KEYS:
            raise fail(key, f"unknown setting{_did_you_mean(key, MIGRATIONS_KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise fail(key, "must be a non-empty string")
    history = settings.get("history")
    if history is not None and history not in HISTORY_STORES:
        raise fail("history", f"must be one of {', '.join(HISTORY_STORES)}, not {history!r}")
    folder = settings.get("dir")
    return MigrationsConfig(dir=_relative(file.parent, folder) if folder else None, history=history, file=file)


def load_databases(project_dir: Path, env: Mapping[str, str]) -> dict[str, Database]:
    """The ``[databases.NAME]`` tables SQL sources name, with passwords from the environment.

    ``url`` holds no password (``postgresql://erp@127.0.0.1/erp``; a relative ``sqlite:///x.db`` is
    relative to the config file); ``password_env`` names the variable holding the password, or
    ``url_env`` the one holding the whole URL. A password written into the file is refused. A
    variable that is not set is reported when a source uses the database, not before.
    """
    read = _read_config_file(project_dir)
    if read is None:
        return {}
    file, text, table, prefix = read
    entries = table.get("databases", {})
    if not isinstance(entries, dict):
        raise ConfigError(f"{file}: 'databases' must be a table of [databases.NAME] tables")
    found: dict[str, Database] = {}
    for name, settings in entries.items():
        header = _line_of(text, rf"\s*\[\s*{re.escape(prefix)}databases\.\"?{re.escape(name)}\"?\s*\]")

        def fail(key: str | None, message: str, name: str = name, header: int | None = header) -> ConfigError:
            line = _line_of(text, rf"\s*{re.escape(key)}\s*=", header or 0) if key and header else header
            return ConfigError(f"{file}:{line or '?'}: databases.{name}{'.' + key if key else ''}: {message}")

        if not isinstance(settings, dict):
            raise fail(None, "must be a table with a url")
        for key, value in settings.items():
            if key not in DATABASE_KEYS:
                secret = any(word in key for word in _SECRET_WORDS)
                raise fail(key, f"secrets must not be stored in {file.name}; put the password in an environment "
                                "variable and name it here: password_env = \"ERP_DB_PASSWORD\"" if secret else
                           f"unknown setting{_did_you_mean(key, DATABASE_KEYS)}")
            if not isinstance(value, str) or not value.strip():
                raise fail(key, "must be a non-empty string")
        if ("url" in settings) == ("url_env" in settings):
            raise fail(None, "needs either url or url_env")
        found[name] = _database(name, settings, file, env, fail)
    return found


def _database(name: str, settings: Mapping[str, str], file: Path, env: Mapping[str, str], fail: Any) -> Database:
    if "url" in settings:
        url = settings["url"]
        if url_password(url):
            raise fail("url", f"the url holds a password; secrets must not be stored in {file.name}: remove it "
                              "and name the variable holding it: password_env = \"ERP_DB_PASSWORD\"")
        path = sqlite_path(url)
        if path is not None and not Path(path).is_absolute():
            url = url.replace(path, str((file.parent / path).resolve()), 1)
    else:
        url = env.get(settings["url_env"]) or ""
        if not url:
            return Database(name, "", None, error=f"database '{name}' ({file.name}) takes its url from the "
                            f"environment variable {settings['url_env']}, which is not set")
    password = None
    if "password_env" in settings:
        password = env.get(settings["password_env"]) or None
        if password is None:
            return Database(name, url, None, error=f"database '{name}' ({file.name}) needs its password in the "
                            f"environment variable {settings['password_env']}, which is not set")
    return Database(name, url, password)


# --- resolving ------------------------------------------------------------------------------------


def _secret(config: TargetConfig, env: Mapping[str, str], key: str, what: str, *, required: bool = True
            ) -> str | None:
    var = config.settings.get(key, DEFAULT_SECRET_ENV[key])
    value = env.get(var) or None
    if value is None and (required or key in config.settings):
        raise ConfigError(f"target '{config.name}' ({config.file.name}) needs its {what} in the environment "
                          f"variable {var}, which is not set")
    return value


def _required(config: TargetConfig, key: str, fallback: str | None = None) -> str:
    value = config.settings.get(key) or fallback
    if not value:
        raise ConfigError(f"{config.file}:{config.line or '?'}: targets.{config.name}: '{key}' is required "
                          f"for auth = \"{config.auth}\"")
    return value


def _pace(config: TargetConfig, value: Any) -> str | None:
    """The local org's pacing spec, checked now so that a typo fails before anything starts."""
    if value is None:
        return None
    try:
        PaceSpec.parse(str(value))
    except PaceSpecError as exc:
        where = f"{config.file}:{config.line}" if config.line else str(config.file)
        raise ConfigError(f"{where}: targets.{config.name}.pace: {exc}") from None
    return str(value)


def _relative(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _build_target(config: TargetConfig, env: Mapping[str, str]) -> Target:
    s, base, auth = config.settings, config.file.parent, config.auth
    common: dict[str, Any] = {"name": config.name, "auth": auth, "source": str(config.file),
                              "verify": s.get("verify", True)}
    if isinstance(common["verify"], str):
        common["verify"] = str(_relative(base, common["verify"]))
    if s.get("api_version"):
        common["api_version"] = s["api_version"]
    if auth == LOCAL:
        return Target(kind="local", local_db=_relative(base, s["db"]) if s.get("db") else None,
                      local_schema_files=tuple(_relative(base, f) for f in s.get("schema", ())),
                      local_pace=_pace(config, s.get("pace")), **common)
    login_url = s.get("login_url", DEFAULT_LOGIN_URL)
    credentials: Credentials
    if auth == "token":
        instance_url = _required(config, "instance_url", env.get("SF_INSTANCE_URL"))
        access_token = _secret(config, env, "access_token_env", "access token")
        credentials = AccessTokenCredentials(instance_url, access_token)
        return Target(kind="salesforce", credentials=credentials, instance_url=instance_url, **common)
    if auth == "sf-cli":
        return Target(kind="salesforce", credentials=SfCliCredentials(_required(config, "alias")), **common)
    if auth == "password":
        credentials = UsernamePasswordCredentials(
            login_url, _required(config, "client_id"),
            _secret(config, env, "client_secret_env", "client secret"),
            _required(config, "username"), _secret(config, env, "password_env", "password"),
            _secret(config, env, "security_token_env", "security token", required=False) or "")
    elif auth == "jwt":
        key_file = s.get("key_file")
        pem = None if key_file else _secret(config, env, "key_env", "JWT private key (PEM text)")
        credentials = JwtBearerCredentials(
            login_url, _required(config, "client_id"), _required(config, "username"),
            _relative(base, key_file) if key_file else None, s.get("audience"), pem)
    elif auth == "refresh-token":
        credentials = RefreshTokenCredentials(
            login_url, _required(config, "client_id"),
            _secret(config, env, "refresh_token_env", "refresh token"),
            _secret(config, env, "client_secret_env", "client secret", required=False))
    else:  # client-credentials
        credentials = ClientCredentials(_required(config, "login_url"), _required(config, "client_id"),
                                        _secret(config, env, "client_secret_env", "client secret"))
    return Target(kind="salesforce", credentials=credentials, login_url=login_url,
                  username=s.get("username"), **common)


def _env_target(env: Mapping[str, str]) -> Target:
    instance_url = env["SF_INSTANCE_URL"].rstrip("/")
    return Target(name=ENV_TARGET, kind="salesforce", auth="token", source="environment",
                  credentials=AccessTokenCredentials(instance_url, env["SF_ACCESS_TOKEN"]),
                  instance_url=instance_url)


def _apply_cli(target: Target, overrides: Mapping[str, Any]) -> Target:
    given = {k: v for k, v in overrides.items() if v is not None and v != () and v != []}
    unknown = set(given) - CLI_OVERRIDE_KEYS
    if unknown:
        raise ConfigError(f"unknown target option(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if "api_version" in given:
        changes["api_version"] = str(given["api_version"])
    if "verify" in given:
        changes["verify"] = given["verify"]
    for key in ("db", "schema"):
        if key in given and target.kind != "local":
            raise ConfigError(f"--{key} applies to the local org only, not to target '{target.name}'")
    if "db" in given:
        changes["local_db"] = Path(given["db"]).expanduser()
    if "schema" in given:
        files = [given["schema"]] if isinstance(given["schema"], str | Path) else given["schema"]
        changes["local_schema_files"] = tuple(Path(f).expanduser() for f in files)
    for key in ("instance_url", "login_url", "username", "alias"):
        if key in given:
            raise ConfigError(f"--{key.replace('_', '-')} cannot be combined with target '{target.name}'; "
                              "set it in migrator.toml")
    return replace(target, **changes)


def resolve_target(name: str | None, *, cli_overrides: Mapping[str, Any], env: Mapping[str, str],
                   project_dir: Path) -> Target:
    """The target to use, configured by the migrator.toml of `project_dir` (the plan's folder; the
    file may be in a folder above it). Name: CLI, else ``MIGRATOR_TARGET``, else ``SF_ACCESS_TOKEN`` +
    ``SF_INSTANCE_URL`` (an ad-hoc target named ``env``), else the file's ``default_target``, else
    ``local``. API version: CLI, else ``MIGRATOR_API_VERSION``, else the target's, else the file's."""
    project = load_project_config(project_dir)
    chosen = name or env.get("MIGRATOR_TARGET") or None
    env_token = bool(env.get("SF_ACCESS_TOKEN") and env.get("SF_INSTANCE_URL"))
    if chosen is None and env_token:
        target = _env_target(env)
    else:
        chosen = chosen or project.default_target or LOCAL
        config = project.targets.get(chosen)
        if config is None and chosen == ENV_TARGET and env_token:
            target = _env_target(env)
        elif config is None and chosen == LOCAL:
            target = Target(name=LOCAL, kind="local")
        elif config is None:
            known = sorted({*project.targets, LOCAL})
            where = f" in {project.file}" if project.file else \
                f" (no {CONFIG_FILE} in {project_dir.resolve()} or a folder above it)"
            raise ConfigError(f"unknown target '{chosen}'{where}{_did_you_mean(chosen, known)} "
                              f"(known: {', '.join(known)})")
        else:
            target = _build_target(config, env)
    own = project.targets.get(target.name)
    if project.api_version and not (own and "api_version" in own.settings):
        target = replace(target, api_version=project.api_version)
    if env.get("MIGRATOR_API_VERSION"):
        target = replace(target, api_version=env["MIGRATOR_API_VERSION"])
    target = _apply_cli(target, cli_overrides)
    target = replace(target, config_file=str(project.file) if project.file else None)
    if not re.fullmatch(r"\d{2}\.0", target.api_version):
        raise ConfigError(f"API version must look like 62.0, not {target.api_version!r}")
    return target


def mask_key(name: str | None, *, env: Mapping[str, str], project_dir: Path) -> MaskKey | None:
    """The masking secret for target `name` (chosen as `resolve_target` chooses): from the variable its
    ``mask_secret_env`` names, else from ``MIGRATOR_MASK_SECRET``; None when neither is set. A target
    that names a variable which is not set is an error: its masks would silently change.

    Only the secret's source (a variable name) is ever shown; credentials are not needed for it."""
    project = load_project_config(project_dir)
    chosen = name or env.get("MIGRATOR_TARGET") or project.default_target or LOCAL
    config = project.targets.get(chosen)
    variable = (config.settings.get("mask_secret_env") if config else None) or MASK_SECRET_ENV
    value = env.get(variable) or None
    if value is None and config is not None and "mask_secret_env" in config.settings:
        raise ConfigError(f"target '{chosen}' ({config.file.name}) takes its masking secret from the environment "
                          f"variable {variable}, which is not set")
    return MaskKey.from_text(value, variable) if value is not None else None


# --- connecting -----------------------------------------------------------------------------------


@contextmanager
def open_target(target: Target, *, data_dir: Path, session: requests.Session | None = None,
                timeout: float | tuple[float, float] = DEFAULT_TIMEOUT) -> Iterator[ApiSession]:
    """An authenticated ApiSession for the target, closed on exit.

    For a local target this starts the local org in-process on 127.0.0.1 (HTTPS, a free port, its
    database under `data_dir` unless configured) and stops it on exit; its CA is trusted by the
    session. Either way one authenticated call is made first, so bad credentials (a refused token
    included) fail before any work.
    """
    http = session or requests.Session()
    try:
        if target.kind == "local":
            with _local_org(target, data_dir) as (org, credentials):
                http.verify = str(org.ca_file) if org.ca_file else True
                api = ApiSession(http, credentials, api_version=target.api_version, timeout=timeout)
                api.check_session()
                yield api
            return
        if target.credentials is None:
            raise ConfigError(f"target '{target.name}' has no credentials")
        if target.verify is not True:
            http.verify = target.verify
        api = ApiSession(http, target.credentials, api_version=target.api_version, timeout=timeout)
        api.check_session()
        yield api
    finally:
        if session is None:
            http.close()


@contextmanager
def _local_org(target: Target, data_dir: Path) -> Iterator[tuple[Any, Credentials]]:
    from migrator.localorg.server import LocalOrgServer  # only local targets need the server stack

    db_path = target.local_db or data_dir / LOCAL_DB_NAME
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for schema in target.local_schema_files:
        if not schema.is_file():
            raise ConfigError(f"schema file {schema} of target '{target.name}' does not exist")
    with LocalOrgServer(db_path, schema_files=target.local_schema_files, host="127.0.0.1", port=0,
                        https=True, pace=target.local_pace) as org:
        # The real OAuth password flow against the org's own token endpoint, so an expired
        # session is renewed exactly as it would be against Salesforce.
        credentials = UsernamePasswordCredentials(org.instance_url, org.client_id, org.client_secret,
                                                  org.username, org.password)
        yield org, credentials
