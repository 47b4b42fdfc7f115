"""The authenticated HTTP session every API client uses, and THE mapping of HTTP failures to errors.

`ApiSession` adds the bearer token to each request, asks for gzip, turns connection failures into
`TransientApiError`, and renews the token once when the server answers 401 ``INVALID_SESSION_ID``.
`raise_for_api_error` is the only place that decides which `migrator.errors` class an HTTP answer
becomes, so the executor's retry policy has one vocabulary to rely on.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from migrator import __version__
from migrator.client.auth import Credentials, Token, redact
from migrator.errors import (
    AuthError,
    BulkApiError,
    ConfigError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    TransientApiError,
)

log = logging.getLogger("migrator.client")

DEFAULT_API_VERSION = "62.0"
DEFAULT_TIMEOUT = (10.0, 300.0)  # (connect, read) seconds; result downloads can be slow to start
MAX_MESSAGE_CHARS = 500

SESSION_CODES = frozenset({"INVALID_SESSION_ID", "InvalidSessionId", "INVALID_AUTH_HEADER"})
LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "ExceededQuota", "EXCEEDED_QUOTA",
                         "TXN_SECURITY_METERING_ERROR"})
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "TooManyLockFailure", "Timeout", "QUERY_TIMEOUT",
                             "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "Unknown", "InternalServerError",
                             "TooManyRequests"})
NOT_FOUND_CODES = frozenset({"NOT_FOUND", "NotFound"})
_LIMIT_TEXT = re.compile(r"limit exceeded|has been exceeded|has been reached|exceeds? the (maximum|limit)"
                         r"|too large|max bulk", re.IGNORECASE)
_XML_CODE = re.compile(r"<(?:\w+:)?exceptionCode>([^<]*)<", re.IGNORECASE)
_XML_MESSAGE = re.compile(r"<(?:\w+:)?exceptionMessage>([^<]*)<", re.IGNORECASE)


def classify_error(status: int | None, error_code: str | None, message: str = "") -> type[BulkApiError]:
    """Which error class an HTTP status + Salesforce errorCode (+ message text) stands for.

    Pure, so the whole table is unit-tested. Order matters: an explicit errorCode beats the status.
    """
    code = error_code or ""
    if code in LIMIT_CODES or status == 413:
        return LimitExceededError
    if code in SESSION_CODES or status == 401:
        return AuthError
    if status == 403:
        # API_DISABLED_FOR_ORG, INSUFFICIENT_ACCESS, API_CURRENTLY_DISABLED: these credentials
        # cannot do this; retrying will not help, re-configuring will.
        return LimitExceededError if _LIMIT_TEXT.search(message) else AuthError
    if status == 404 or code in NOT_FOUND_CODES:
        return NotFoundError
    if status == 429 or (status is not None and status >= 500) or code in TRANSIENT_CODES:
        return TransientApiError
    if _LIMIT_TEXT.search(message):
        return LimitExceededError
    return InvalidRequestError


def parse_error_body(body: bytes | str, content_type: str = "") -> tuple[str | None, str]:
    """(errorCode, message) from an error body in any shape Salesforce uses; tolerates anything else.

    Shapes: Bulk 2.0/REST ``[{"errorCode", "message"}]``; a single object; Bulk 1.0 JSON
    ``{"exceptionCode", "exceptionMessage"}`` or XML ``<exceptionCode>``; OAuth ``{"error",
    "error_description"}``; otherwise the text itself (HTML error pages from proxies, empty bodies).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    try:
        payload: Any = json.loads(text) if text[:1] in "[{" and text else None
    except ValueError:
        payload = None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if isinstance(payload, dict):
        for code_key, message_key in (("errorCode", "message"), ("exceptionCode", "exceptionMessage"),
                                      ("error", "error_description")):
            if code_key in payload or message_key in payload:
                code = payload.get(code_key)
                return (str(code) if code else None), str(payload.get(message_key) or "")
    code_match, message_match = _XML_CODE.search(text), _XML_MESSAGE.search(text)
    if code_match or message_match:
        return ((code_match.group(1).strip() or None) if code_match else None,
                message_match.group(1).strip() if message_match else "")
    if "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        return None, "the server answered with an HTML page"
    return None, text[:MAX_MESSAGE_CHARS]


def _public_url(url: str) -> str:
    """The URL without its query string: enough to locate a failure, nothing more."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def raise_for_api_error(response: requests.Response, job_id: str | None = None, *,
                        secrets: Iterable[str | None] = ()) -> None:
    """Raise the `migrator.errors` class for a failed answer; return quietly on 1xx/2xx.

    THE one mapping of HTTP status + errorCode to errors (see `classify_error`). The message is
    scrubbed of `secrets` in case a server or proxy echoes a credential back.
    """
    status = response.status_code
    if status < 300:
        return
    code, message = parse_error_body(response.content or b"", response.headers.get("Content-Type", ""))
    message = redact(message or response.reason or "", secrets)
    error_class = classify_error(status, code, message)
    raise error_class(message, status=status, error_code=code, job_id=job_id, url=_public_url(response.url))


def transport_error(exc: requests.RequestException, url: str, job_id: str | None = None
                    ) -> ConfigError | TransientApiError:
    """The error a failed connection stands for: transient, except for bad URLs and untrusted certificates."""
    public = _public_url(url)
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        host = urlsplit(url).hostname
        return ConfigError(f"TLS certificate of {host} is not trusted; set verify = \"path/to/ca.pem\" "
                           "for this target (or fix the system trust store)")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return ConfigError(f"invalid URL {public}: {name}")
    return TransientApiError(f"{name} talking to {public}", job_id=job_id, url=public)



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
        self._lock = threading.Lock()

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

    def _renew(self, stale: Token) -> Token:
        with self._lock:
            if self._token is not None and self._token is not stale:
                return self._token  # another thread renewed it meanwhile
            if not self.credentials.can_refresh:
                raise AuthError("the session expired and these credentials cannot renew it "
                                "(a bare access token); get a new token", status=401,
                                error_code="INVALID_SESSION_ID")
            log.info("session expired; re-authenticating with %s", type(self.credentials).__name__)
            self._token = self.credentials.authenticate(self.session)
            return self._token

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
        all_headers = {**credential, "Accept-Encoding": "gzip", "User-Agent": f"migrator/{__version__}",
                       "Accept": "application/json"}
        all_headers.update(headers or {})
        started = time.perf_counter()
        try:
            # verify= passed explicitly: otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the
            # environment silently replace a CA file set on the session (the local org's, say).
            response = self.session.request(method, url, headers=all_headers, params=params, json=json_body,
                                            data=data, files=files, stream=stream,
                                            timeout=timeout or self.timeout, verify=self.session.verify)
        except requests.RequestException as exc:
            log.debug("%s %s failed: %s", method, _public_url(url), type(exc).__name__)
            raise transport_error(exc, url, job_id) from None
        log.debug("%s %s -> %s (%.0f ms)", method, _public_url(url), response.status_code,
                  (time.perf_counter() - started) * 1000)
        return response


def _is_expired_session(response: requests.Response) -> bool:
    """Worth one renewal: a 401 saying INVALID_SESSION_ID (or naming no other reason), or Bulk 1.0's
    400 InvalidSessionId."""
    if response.status_code not in (400, 401):
        return False
    code, _ = parse_error_body(response.content or b"", response.headers.get("Content-Type", ""))
    return code in SESSION_CODES or (response.status_code == 401 and code is None)
