"""The authenticated HTTP session every API client uses, and THE mapping of HTTP failures to errors.

`ApiSession` adds the bearer token to each request, asks for gzip, turns connection failures into
`TransientApiError`, and renews the token once when the server answers 401 ``INVALID_SESSION_ID``.
`raise_for_api_error` is the only place that decides which `migrator.errors` class an HTTP answer
becomes, so the executor's retry policy has one vocabulary to rely on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests

from migrator.client.auth import Credentials, Token
from migrator.client.error_mapping import (
    SESSION_CODES,
    USER_AGENT,
    parse_error_body,
    public_url,
    raise_for_api_error,
    transport_error,
)
from migrator.errors import (
    AuthError,
)

log = logging.getLogger("migrator.client")

DEFAULT_API_VERSION = "62.0"
DEFAULT_TIMEOUT = (10.0, 300.0)  # (connect, read) seconds; result downloads can be slow to start


class CallMeter:
    """Counts the HTTP calls sessions send, each charged to what the calling thread is working on.

    The executor charges a job's calls (create, upload, close, status checks, results) to that job
    with `charge_to`, so a run can say how many API calls, which count against the org's daily
    allocation, each step used."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.total = 0

    @contextmanager
    def charge_to(self, account: str) -> Iterator[None]:
        previous = getattr(self._local, "account", None)
        self._local.account = account
        try:
            yield
        finally:
            self._local.account = previous

    def count(self) -> None:
        account = getattr(self._local, "account", None)
        with self._lock:
            self.total += 1
            if account is not None:
                self._counts[account] = self._counts.get(account, 0) + 1

    def take(self, account: str) -> int:
        """The calls charged to `account` since the last `take`."""
        with self._lock:
            return self._counts.pop(account, 0)


class ApiSession:
    """One org connection: a `requests.Session`, credentials, an API version, and the current token.

    Safe to share between threads: a token renewal happens once even if several requests see the
    same expired token at the same time.
    """

    def __init__(self, session: requests.Session, credentials: Credentials, *,
                 api_version: str = DEFAULT_API_VERSION,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 token: Token | None = None):
        self.session = session
        self.credentials = credentials
        self.api_version = api_version
        self.timeout = timeout
        self._token = token
        self._accepted: Token | None = None  # the last token the server answered a call with
        self._lock = threading.Lock()
        self.meter: CallMeter | None = None

    def __repr__(self) -> str:
        instance = self._token.instance_url if self._token else "not authenticated"
        return f"ApiSession({instance}, api {self.api_version}, {self.credentials!r})"

    # --- token handling -------------------------------------------------------------------

    @property
    def token(self) -> Token:
        """The current token, authenticating first if there is none yet."""
        with self._lock:
            if self._token is None:
                self._token = self.credentials.authenticate(self.session)
            return self._token

    def authenticate(self) -> Token:
        """Authenticate now (for an early, clear failure before any work starts)."""
        return self.token

    def check_session(self) -> None:
        """One cheap authenticated call (the API version's resource list), so that a token the org
        refuses, or an API version it does not serve, fails before any work starts. A bare access
        token is never checked by `authenticate`: this is where it meets the server first."""
        self.request("GET", self.data_path).close()

    def _renew(self, stale: Token) -> Token:
        with self._lock:
            if self._token is not None and self._token is not stale:
                return self._token  # another thread renewed it meanwhile
            if not self.credentials.can_refresh:
                if self._accepted is not stale:  # it never worked: not an expiry, a refusal
                    raise AuthError(f"the access token was refused by {stale.instance_url}: it is not a "
                                    "valid session there (wrong org, revoked, or expired before this "
                                    "run); get a new token", status=401, error_code="INVALID_SESSION_ID")
                raise AuthError("the session expired and these credentials cannot renew it "
                                "(a bare access token); get a new token", status=401,
                                error_code="INVALID_SESSION_ID")
            log.info("session expired; re-authenticating with %s", type(self.credentials).__name__)
            self._token = self.credentials.authenticate(self.session)
            return self._token

    @contextmanager
    def metered(self, meter: CallMeter) -> Iterator[CallMeter]:
        """Count every call this session sends meanwhile on `meter`."""
        previous, self.meter = self.meter, meter
        try:
            yield meter
        finally:
            self.meter = previous

    def secrets(self) -> tuple[str, ...]:
        """Everything that must never be printed: the current token and the credentials' secrets."""
        current = (self._token.access_token,) if self._token else ()
        return (*current, *self.credentials.secrets())

    # --- URLs and requests ----------------------------------------------------------------

    @property
    def instance_url(self) -> str:
        return self.token.instance_url

    @property
    def data_path(self) -> str:
        """``/services/data/vXX.X`` for this session's API version (REST and Bulk 2.0)."""
        return f"/services/data/v{self.api_version}"

    @property
    def async_path(self) -> str:
        """``/services/async/XX.X`` for this session's API version (Bulk 1.0; no ``v``)."""
        return f"/services/async/{self.api_version}"

    def url(self, path: str, token: Token | None = None) -> str:
        """Absolute URL: full URLs stay as they are, ``/services/...`` hangs off the instance, and
        anything else (``jobs/ingest``) off the versioned data path."""
        if path.startswith(("https://", "http://")):
            return path
        base = (token or self.token).instance_url
        if path.startswith("/"):
            return base + path
        return f"{base}{self.data_path}/{path}"

    def request(self, method: str, path: str, *, job_id: str | None = None,
                headers: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: Any = None, files: Mapping[str, Any] | None = None,
                stream: bool = False, timeout: float | tuple[float, float] | None = None,
                session_header: bool = False) -> requests.Response:
        """Send one API call; return the response if it succeeded, else raise a `BulkApiError`.

        The token goes in ``Authorization: Bearer`` (REST, Bulk 2.0) or, with `session_header`, in
        ``X-SFDC-Session`` (Bulk 1.0). When the server says the session expired (401
        ``INVALID_SESSION_ID``, or Bulk 1.0's 400 ``InvalidSessionId``) the token is renewed once
        and the call repeated (a file body is rewound first). `files` makes a multipart/form-data
        body (``requests`` semantics; parts given as bytes, so a repeat re-encodes them whole).
        Connection failures and timeouts raise `TransientApiError`.
        """
        token = self.token
        body_start = data.tell() if hasattr(data, "seek") and hasattr(data, "tell") else None
        send = (method, path, job_id, headers, params, json_body, data, files, stream, timeout, session_header)
        response = self._send(token, *send)
        if _is_expired_session(response):
            response.close()
            token = self._renew(stale=token)
            if body_start is not None:
                data.seek(body_start)
            response = self._send(token, *send)
        if not _is_expired_session(response):
            self._accepted = token
        if response.status_code >= 300:
            try:
                raise_for_api_error(response, job_id, secrets=self.secrets())
            finally:
                response.close()
        return response

    def _send(self, token: Token, method: str, path: str, job_id: str | None,
              headers: Mapping[str, str] | None, params: Mapping[str, Any] | None, json_body: Any,
              data: Any, files: Mapping[str, Any] | None, stream: bool,
              timeout: float | tuple[float, float] | None, session_header: bool) -> requests.Response:
        url = self.url(path, token)
        credential = ({"X-SFDC-Session": token.access_token} if session_header
                      else {"Authorization": f"Bearer {token.access_token}"})
        all_headers = {**credential, "Accept-Encoding": "gzip", "User-Agent": USER_AGENT,
                       "Accept": "application/json"}
        all_headers.update(headers or {})
        started = time.perf_counter()
        if self.meter is not None:
            self.meter.count()
        try:
            # verify= passed explicitly: otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the
            # environment silently replace a CA file set on the session (the local org's, say).
            response = self.session.request(method, url, headers=all_headers, params=params, json=json_body,
                                            data=data, files=files, stream=stream,
                                            timeout=timeout or self.timeout, verify=self.session.verify)
        except requests.RequestException as exc:
            log.debug("%s %s failed: %s", method, public_url(url), type(exc).__name__)
            raise transport_error(exc, url, job_id) from None
        log.debug("%s %s -> %s (%.0f ms)", method, public_url(url), response.status_code,
                  (time.perf_counter() - started) * 1000)
        return response


def _is_expired_session(response: requests.Response) -> bool:
    """Worth one renewal: a 401 saying INVALID_SESSION_ID (or naming no other reason), or Bulk 1.0's
    400 InvalidSessionId."""
    if response.status_code not in (400, 401):
        return False
    code, _ = parse_error_body(response.content or b"", response.headers.get("Content-Type", ""))
    return code in SESSION_CODES or (response.status_code == 401 and code is None)
