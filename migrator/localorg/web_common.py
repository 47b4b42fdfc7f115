"""Shared pieces of the HTTP layer: Salesforce-shaped errors and JSON, API versions, bodies, auth.

Every REST / Bulk 2.0 error is a JSON array ``[{"errorCode": ..., "message": ...}]`` with
``Content-Type: application/json;charset=UTF-8``; raising ApiError anywhere produces one.
`require_session` is the Bearer check every /services/data call goes through.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from .auth import Session
from .org import LocalOrg

JSON_TYPE = "application/json;charset=UTF-8"
MIN_VERSION = 31.0
MAX_VERSION = 68.0  # Winter '27, the current release
_VERSION = re.compile(r"\d{2,3}\.\d")
NOT_FOUND_MESSAGE = "The requested resource does not exist"


class ApiError(Exception):
    """A REST error; `fields` (record errors only) adds the ``fields`` key Salesforce sends with them."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def response(self) -> Response:
        return sf_json(self.body(), self.status, self.headers)


class BadRequestBody(Exception):
    """A request body that cannot even be read (broken gzip); answered 400."""


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def sf_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=JSON_TYPE,
                    headers=headers)


def org_of(request: Request) -> LocalOrg:
    return request.app.state.org


def api_version(version: str, minimum: float = MIN_VERSION) -> str:
    """Check the ``vXX.X`` of a path: retired versions answer 410, unknown ones 404."""
    if not _VERSION.fullmatch(version):
        raise not_found()
    number = float(version)
    if number < MIN_VERSION:
        raise ApiError(410, "GONE", f"API version {version} has been retired and is no longer supported. "
                                    f"Use version {MIN_VERSION} or later.")
    if number > MAX_VERSION or number < minimum:
        raise not_found()
    return version


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None


def require_session(request: Request) -> Session:
    """The Bearer session of a /services/data call, or 401 INVALID_SESSION_ID."""
    session = org_of(request).sessions.authenticate(bearer_token(request))
    if session is None:
        raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    return session


async def json_value(request: Request) -> Any:
    """The request body as any JSON value (None when empty), or 400 JSON_PARSER_ERROR."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"The request body is not valid JSON: {exc}") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or 400 JSON_PARSER_ERROR."""
    raw = await request.body()
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize {name}: expected a string, got {value!r}")
    return value


def choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = text_field(body, name)
    if value is None:
        return default
    if value not in allowed:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize value {value!r} of {name}: "
                                                 f"valid values are {', '.join(allowed)}")
    return value


def positive_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "API_ERROR", f"{name} must be a positive integer, got {value!r}")
    return int(value)
