"""One REST call as the resource functions see it, whoever made it: an HTTP route or a composite subrequest.

The resource modules (rest_sobjects, rest_collections, rest_composite, rest_tree) are plain functions
from a RestCall and a parsed body to a RestResponse, raising ApiError for errors. The FastAPI routes
wrap them for HTTP; composite and batch requests call the same functions for their subrequests, so a
subrequest answers exactly as the resource would on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .org import LocalOrg
from .web_common import MIN_VERSION, ApiError, api_version, org_of, sf_json


@dataclass(frozen=True)
class RestCall:
    org: LocalOrg
    user_id: str
    version: str
    params: Mapping[str, str] = field(default_factory=dict)  # the query string
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    def with_request(self, version: str, params: Mapping[str, str], headers: Mapping[str, str]) -> RestCall:
        return replace(self, version=version, params=params, headers=headers)

    def record_url(self, object_name: str, record_id: str) -> str:
        return f"/services/data/v{self.version}/sobjects/{object_name}/{record_id}"

    def flag(self, name: str, default: bool = False) -> bool:
        """A true/false query parameter (``allOrNone=true``)."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if value.lower() not in ("true", "false"):
            raise ApiError(400, "INVALID_FIELD", f"{name} must be true or false, got {value!r}")
        return value.lower() == "true"


@dataclass(frozen=True)
class RestResponse:
    status: int
    body: Any = None  # JSON-able; None: no body (204)
    headers: Mapping[str, str] = field(default_factory=dict)

    def http(self) -> Response:
        if isinstance(self.body, bytes):  # a blob, with its own Content-Type
            return Response(self.body, status_code=self.status, headers=dict(self.headers))
        if self.body is None and self.status in (204, 304):
            return Response(status_code=self.status, headers=dict(self.headers))
        return sf_json(self.body, self.status, dict(self.headers))


def call_of(request: Request, version: str, session: Session, minimum: float = MIN_VERSION) -> RestCall:
    """The RestCall of an HTTP request (its API version checked: 410 retired, 404 unknown or too old)."""
    api_version(version, minimum)
    return RestCall(org_of(request), session.user_id, version, dict(request.query_params),
                    {k.lower(): v for k, v in request.headers.items()})


async def on_dml_thread(call: RestCall, resource: Callable[..., RestResponse], *args: Any) -> Response:
    """Run a writing resource function on the DML thread and answer with its response."""
    return (await asyncio.wrap_future(call.org.on_dml_thread(partial(resource, call, *args)))).http()


async def off_the_loop(call: RestCall, resource: Callable[..., RestResponse], *args: Any) -> Response:
    """Run a reading resource function on a worker thread (SQLite calls block) and answer with its response."""
    return (await run_in_threadpool(resource, call, *args)).http()


def error_response(exc: ApiError) -> RestResponse:
    return RestResponse(exc.status, exc.body(), exc.headers)


def json_object(body: Any, what: str = "The request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", f"{what} must be a JSON object")
    return body


def flag_of(body: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ApiError(400, "JSON_PARSER_ERROR", f"Cannot deserialize {name}: expected true or false, got {value!r}")
    return value
