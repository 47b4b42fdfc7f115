"""THE mapping of HTTP answers and connection failures to `migrator.errors`, and secret scrubbing.

Every client (the session, the OAuth flows, Bulk 2.0 and 1.0) decides what a failed answer is
through this module, so the executor's retry policy has one vocabulary to rely on, and every
message that leaves the client has been scrubbed of the secrets that might be echoed into it.
It sits below both `auth` (token requests) and `http` (the session), which share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from migrator.errors import (
    AuthError,
    BulkApiError,
    ConfigError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    TransientApiError,
)

REDACTED = "***"


def _installed_version() -> str:
    """migrator's version as installed: pyproject.toml is the one place it is written."""
    try:
        return metadata.version("migrator")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


USER_AGENT = f"migrator/{_installed_version()}"
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


def public_url(url: str) -> str:
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
    raise error_class(message, status=status, error_code=code, job_id=job_id, url=public_url(response.url))


def transport_error(exc: requests.RequestException, url: str, job_id: str | None = None
                    ) -> ConfigError | TransientApiError:
    """The error a failed connection stands for: transient, except for bad URLs and untrusted certificates."""
    public = public_url(url)
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        host = urlsplit(url).hostname
        return ConfigError(f"TLS certificate of {host} is not trusted; set verify = \"path/to/ca.pem\" "
                           "for this target (or fix the system trust store)")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return ConfigError(f"invalid URL {public}: {name}")
    return TransientApiError(f"{name} talking to {public}", job_id=job_id, url=public)

def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret in `text` with ``***``.

    Longest secrets first, so a secret that contains another one is still hidden entirely. Very short
    strings (under 4 characters) are ignored: blanking every "a" would make text unreadable and such
    values are not real secrets.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
