"""Credential flows: each turns what the user configured into a `Token` (access token + instance URL).

Every flow is a small class with ``authenticate(session) -> Token``. `ApiSession` calls it once at the
start and once more when the server says the session expired (401 ``INVALID_SESSION_ID``); flows that
cannot obtain a new token (a bare access token) say so through ``can_refresh``.

Secrets live only in these objects and in `Token`: their ``repr`` shows ``***`` instead, error messages
never include them, and ``secrets()`` lists them so callers can scrub any text with `redact`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests

from migrator.client.error_mapping import REDACTED, redact, transport_error
from migrator.errors import AuthError, ConfigError, TransientApiError

TOKEN_PATH = "/services/oauth2/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180
DEFAULT_AUTH_TIMEOUT = (10.0, 60.0)




@dataclass(frozen=True)
class Token:
    """An access token and the instance it is valid for. `issued_at` is epoch seconds."""

    access_token: str = field(repr=False)
    instance_url: str
    issued_at: float
    refresh_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f"Token(access_token={REDACTED}, instance_url={self.instance_url!r}, "
                f"issued_at={self.issued_at})")


@runtime_checkable
class Credentials(Protocol):
    """What `ApiSession` needs from a credential flow."""

    can_refresh: bool

    def authenticate(self, session: requests.Session) -> Token:
        """Obtain a (new) token; raise AuthError if the credentials are refused."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this flow holds, for redaction."""
        ...


def _secret_repr(obj: object, public: Sequence[str], secret: Sequence[str]) -> str:
    shown = [f"{name}={getattr(obj, name)!r}" for name in public]
    shown += [f"{name}={REDACTED}" for name in secret if getattr(obj, name, None)]
    return f"{type(obj).__name__}({', '.join(shown)})"


# --- flows that need no OAuth round trip ------------------------------------------------------


@dataclass(repr=False)
class AccessTokenCredentials:
    """A token obtained elsewhere (``SF_ACCESS_TOKEN``). It cannot be renewed: expiry is an AuthError."""

    instance_url: str
    access_token: str
    clock: Callable[[], float] = time.time
    can_refresh: bool = field(default=False, init=False)

    def authenticate(self, session: requests.Session) -> Token:
        return Token(self.access_token, self.instance_url.rstrip("/"), self.clock())

    def secrets(self) -> tuple[str, ...]:
        return (self.access_token,)

    def __repr__(self) -> str:
        return _secret_repr(self, ["instance_url"], ["access_token"])


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run_subprocess(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


@dataclass(repr=False)
class SfCliCredentials:
    """An org the Salesforce CLI already knows (``sf org login ...``), by alias or username.

    Runs ``sf org display --json --target-org ALIAS``; the CLI refreshes its own tokens, so running it
    again is our refresh. `runner` is injectable because the CLI is a third-party process.
    """

    alias: str
    runner: Runner = _run_subprocess
    sf_command: str = "sf"
    clock: Callable[[], float] = time.time
    can_refresh: bool = field(default=True, init=False)
    _last_token: str | None = field(default=None, init=False)

    def authenticate(self, session: requests.Session) -> Token:
        argv = [self.sf_command, "org", "display", "--json", "--target-org", self.alias]
        if self.runner is _run_subprocess and shutil.which(self.sf_command) is None:
            raise ConfigError(f"the Salesforce CLI ('{self.sf_command}') is not on PATH; install "
                              "@salesforce/cli or choose another auth method for this target")
        try:
            completed = self.runner(argv)
        except (OSError, subprocess.SubprocessError) as exc:
            raise AuthError(f"could not run '{' '.join(argv)}': {type(exc).__name__}: {exc}") from None
        token = self._parse(completed.stdout, completed.returncode)
        self._last_token = token.access_token
        return token

    def _parse(self, stdout: str, returncode: int) -> Token:
        # Never quote stdout in errors: on success it contains the access token.
        where = f"'sf org display --target-org {self.alias}'"
        try:
            payload = json.loads(stdout or "")
        except json.JSONDecodeError:
            raise AuthError(f"{where} did not print JSON (exit code {returncode})") from None
        if not isinstance(payload, dict):
            raise AuthError(f"{where} printed unexpected JSON (exit code {returncode})")
        result = payload.get("result")
        if payload.get("status", returncode) != 0 or not isinstance(result, dict):
            name = str(payload.get("name") or "error")
            message = str(payload.get("message") or "no details")
            raise AuthError(f"{where} failed: {name}: {message}", error_code=name)
        access_token, instance_url = result.get("accessToken"), result.get("instanceUrl")
        if not access_token or not instance_url:
            raise AuthError(f"{where} returned no access token or instance URL "
                            f"(connected status: {result.get('connectedStatus', 'unknown')})")
        return Token(str(access_token), str(instance_url).rstrip("/"), self.clock())

    def secrets(self) -> tuple[str, ...]:
        return (self._last_token,) if self._last_token else ()

    def __repr__(self) -> str:
        return _secret_repr(self, ["alias"], [])


# --- OAuth 2.0 token-endpoint flows ---------------------------------------------------------------


def request_token(session: requests.Session, login_url: str, form: dict[str, str], *,
                  clock: Callable[[], float] = time.time, secrets: Iterable[str] = (),
                  timeout: tuple[float, float] = DEFAULT_AUTH_TIMEOUT) -> Token:
    """POST `form` to the token endpoint of `login_url` and turn the answer into a Token.

    OAuth errors (``{"error", "error_description"}``) become AuthError with that text; connection
    problems and 5xx answers become TransientApiError (worth retrying, unlike a refused password).
    """
    url = login_url.rstrip("/") + TOKEN_PATH
    hidden = list(secrets)
    try:
        # verify= explicitly, so REQUESTS_CA_BUNDLE cannot override a CA file set on the session.
        response = session.post(url, data=form, headers={"Accept": "application/json"}, timeout=timeout,
                                verify=session.verify)
    except requests.RequestException as exc:
        raise transport_error(exc, url) from None
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 500:
        raise TransientApiError("token endpoint unavailable", status=response.status_code, url=url)
    if response.status_code != 200 or not isinstance(payload, dict) or "access_token" not in payload:
        error = payload.get("error") if isinstance(payload, dict) else None
        description = payload.get("error_description") if isinstance(payload, dict) else None
        if not error:
            error, description = "invalid_response", redact(response.text[:300], hidden) or "empty body"
        message = redact(f"{error}: {description}" if description else str(error), hidden)
        raise AuthError(message, status=response.status_code, error_code=str(error), url=url)
    issued_ms = payload.get("issued_at")
    try:
        issued_at = int(issued_ms) / 1000.0 if issued_ms is not None else clock()
    except (TypeError, ValueError):
        issued_at = clock()
    instance_url = payload.get("instance_url") or login_url
    return Token(str(payload["access_token"]), str(instance_url).rstrip("/"), issued_at,
                 payload.get("refresh_token"))


@dataclass(repr=False)
class UsernamePasswordCredentials:
    """OAuth username-password flow (password + security token unless the IP is trusted)."""

    login_url: str
    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str = ""
    clock: Callable[[], float] = time.time
    can_refresh: bool = field(default=True, init=False)

    def authenticate(self, session: requests.Session) -> Token:
        form = {"grant_type": "password", "client_id": self.client_id, "client_secret": self.client_secret,
                "username": self.username, "password": self.password + self.security_token}
        return request_token(session, self.login_url, form, clock=self.clock, secrets=self.secrets())

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret, self.password, self.security_token,
                                 self.password + self.security_token) if s)

    def __repr__(self) -> str:
        return _secret_repr(self, ["login_url", "client_id", "username"],
                            ["client_secret", "password", "security_token"])


@dataclass(repr=False)
class RefreshTokenCredentials:
    """OAuth refresh-token flow; keeps a rotated refresh token if the server returns a new one."""

    login_url: str
    client_id: str
    refresh_token: str
    client_secret: str | None = None
    clock: Callable[[], float] = time.time
    can_refresh: bool = field(default=True, init=False)

    def authenticate(self, session: requests.Session) -> Token:
        form = {"grant_type": "refresh_token", "client_id": self.client_id,
                "refresh_token": self.refresh_token}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        token = request_token(session, self.login_url, form, clock=self.clock, secrets=self.secrets())
        if token.refresh_token:
            self.refresh_token = token.refresh_token
        return token

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.refresh_token, self.client_secret) if s)

    def __repr__(self) -> str:
        return _secret_repr(self, ["login_url", "client_id"], ["refresh_token", "client_secret"])


@dataclass(repr=False)
class ClientCredentials:
    """OAuth client-credentials flow (a connected app's run-as user; My Domain login URL only)."""

    login_url: str
    client_id: str
    client_secret: str
    clock: Callable[[], float] = time.time
    can_refresh: bool = field(default=True, init=False)

    def authenticate(self, session: requests.Session) -> Token:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}
        return request_token(session, self.login_url, form, clock=self.clock, secrets=self.secrets())

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret,) if self.client_secret else ()

    def __repr__(self) -> str:
        return _secret_repr(self, ["login_url", "client_id"], ["client_secret"])


def jwt_audience(login_url: str) -> str:
    """The ``aud`` claim Salesforce expects for a login URL.

    Production and My Domain hosts use https://login.salesforce.com, sandboxes
    https://test.salesforce.com; any other host (an Experience Cloud site, the local org) is its own
    audience.
    """
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host == "login.salesforce.com" or host.endswith(".salesforce.com"):
        return "https://login.salesforce.com"
    return login_url.rstrip("/")


@dataclass(repr=False)
class JwtBearerCredentials:
    """OAuth JWT bearer flow for CI: a connected app with a certificate, no password, no browser.

    The key comes from `private_key_path` or, for CI secrets stored as text, `private_key_pem`.
    """

    login_url: str
    client_id: str
    username: str
    private_key_path: Path | None = None
    audience: str | None = None
    private_key_pem: str | None = None
    clock: Callable[[], float] = time.time
    can_refresh: bool = field(default=True, init=False)

    def assertion(self) -> str:
        """The signed RS256 JWT: iss = consumer key, sub = username, aud, exp = now + 3 minutes."""
        import jwt  # pyjwt; imported here so the other flows work without it

        now = int(self.clock())
        claims = {"iss": self.client_id, "sub": self.username,
                  "aud": self.audience or jwt_audience(self.login_url), "exp": now + JWT_LIFETIME_SECONDS}
        try:
            return jwt.encode(claims, self._private_key(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(f"cannot sign the JWT with {self._key_source()}: "
                              f"{type(exc).__name__} (is it an unencrypted RSA private key in PEM format?)"
                              ) from None

    def authenticate(self, session: requests.Session) -> Token:
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()}
        return request_token(session, self.login_url, form, clock=self.clock, secrets=self.secrets())

    def _key_source(self) -> str:
        return f"key file {self.private_key_path}" if self.private_key_path else "the private key given"

    def _private_key(self) -> str:
        if self.private_key_pem:
            return self.private_key_pem
        if self.private_key_path is None:
            raise ConfigError("JWT bearer auth needs a private key: set key_file or key_env")
        path = Path(self.private_key_path).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read JWT private key file {path}: {exc.strerror or exc}") from None

    def secrets(self) -> tuple[str, ...]:
        return (self.private_key_pem,) if self.private_key_pem else ()

    def __repr__(self) -> str:
        return _secret_repr(self, ["login_url", "client_id", "username", "private_key_path"],
                            ["private_key_pem"])
