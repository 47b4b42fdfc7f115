"""Subrequests of composite and batch requests: a method and a URL, answered by the resource function
that the same HTTP call would reach, so a subrequest answers exactly as the resource does on its own.

Served inside composite (reference: "Composite is supported for ..."): sObject resources (rows, rows
by external id, describe; not blob retrieval), query and queryAll, and sObject Collections. Inside
batch: sObject resources, query, queryAll and limits. An unknown path answers 404 NOT_FOUND, a known
one with another method 405 METHOD_NOT_ALLOWED, as the HTTP routes do.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import rest_collections, rest_limits, rest_reads, rest_sobjects
from .rest_call import RestCall, RestResponse, error_response
from .web_common import ApiError, api_version, not_found


@dataclass(frozen=True)
class Context:
    """How a subrequest runs: `conn` is the composite's transaction (queries read through it);
    `all_or_none` a composite's allOrNone, which overrides its collection subrequests' own."""

    conn: sqlite3.Connection | None = None
    all_or_none: bool | None = None


Handler = Callable[[RestCall, Mapping[str, str], Any, Context], RestResponse]
_NAME = r"(?P<name>[^/]+)"


def _route(method: str, path: str, kind: str, handler: Handler) -> tuple[str, re.Pattern[str], str, Handler]:
    return method, re.compile(path), kind, handler


ROUTES = [
    _route("GET", r"sobjects", "sobject", lambda c, p, b, x: rest_reads.describe_global(c)),
    _route("GET", rf"sobjects/{_NAME}", "sobject", lambda c, p, b, x: rest_reads.sobject_info(c, p["name"])),
    _route("POST", rf"sobjects/{_NAME}", "sobject", lambda c, p, b, x: rest_sobjects.create(c, p["name"], b)),
    _route("GET", rf"sobjects/{_NAME}/describe", "sobject", lambda c, p, b, x: rest_reads.describe(c, p["name"])),
    _route("GET", rf"sobjects/{_NAME}/(?P<id>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.retrieve(c, p["name"], p["id"])),
    _route("PATCH", rf"sobjects/{_NAME}/(?P<id>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.update(c, p["name"], p["id"], b)),
    _route("DELETE", rf"sobjects/{_NAME}/(?P<id>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.delete(c, p["name"], p["id"])),
    _route("POST", rf"sobjects/{_NAME}/(?P<id>[Ii][Dd])", "sobject",
           lambda c, p, b, x: rest_sobjects.upsert(c, p["name"], "Id", None, b)),
    _route("GET", rf"sobjects/{_NAME}/(?P<field>[^/]+)/(?P<value>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.by_external_id(c, p["name"], p["field"], p["value"])),
    _route("PATCH", rf"sobjects/{_NAME}/(?P<field>[^/]+)/(?P<value>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.upsert(c, p["name"], p["field"], p["value"], b)),
    _route("POST", rf"sobjects/{_NAME}/(?P<field>[^/]+)/(?P<value>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.upsert(c, p["name"], p["field"], p["value"], b)),
    _route("DELETE", rf"sobjects/{_NAME}/(?P<field>[^/]+)/(?P<value>[^/]+)", "sobject",
           lambda c, p, b, x: rest_sobjects.delete_by_external_id(c, p["name"], p["field"], p["value"])),
    _route("GET", r"query", "query", lambda c, p, b, x: rest_reads.query(c, False, x.conn)),
    _route("GET", r"queryAll", "query", lambda c, p, b, x: rest_reads.query(c, True, x.conn)),
    _route("GET", r"query/(?P<locator>[^/]+)", "query",
           lambda c, p, b, x: rest_reads.query_more(c, p["locator"], False)),
    _route("GET", r"queryAll/(?P<locator>[^/]+)", "query",
           lambda c, p, b, x: rest_reads.query_more(c, p["locator"], True)),
    _route("POST", r"composite/sobjects", "collection",
           lambda c, p, b, x: rest_collections.create(c, b, x.all_or_none)),
    _route("PATCH", r"composite/sobjects", "collection",
           lambda c, p, b, x: rest_collections.update(c, b, x.all_or_none)),
    _route("DELETE", r"composite/sobjects", "collection",
           lambda c, p, b, x: rest_collections.delete(c, x.all_or_none)),
    _route("GET", rf"composite/sobjects/{_NAME}", "collection",
           lambda c, p, b, x: rest_collections.retrieve(c, p["name"])),
    _route("POST", rf"composite/sobjects/{_NAME}", "collection",
           lambda c, p, b, x: rest_collections.retrieve(c, p["name"], b)),
    _route("PATCH", rf"composite/sobjects/{_NAME}/(?P<field>[^/]+)", "collection",
           lambda c, p, b, x: rest_collections.upsert(c, p["name"], p["field"], b, x.all_or_none)),
    _route("GET", r"limits", "limits", lambda c, p, b, x: rest_limits.limits(c)),
]
COMPOSITE_KINDS = frozenset({"sobject", "query", "collection"})
BATCH_KINDS = frozenset({"sobject", "query", "limits"})
_VERSIONED = re.compile(r"^/?(?:services/data/)?v(?P<version>[^/]+)/(?P<path>.*)$")


@dataclass(frozen=True)
class Target:
    """A subrequest URL taken apart: its API version, resource path (no leading ``/``) and query string."""

    version: str
    path: str
    params: dict[str, str]

    def kind(self) -> str | None:
        return next((kind for _, pattern, kind, _ in ROUTES if pattern.fullmatch(self.path)), None)


def parse_url(url: str) -> Target:
    """``/services/data/v62.0/sobjects/Account?x=1`` (composite) or ``v62.0/...`` (batch); 404 otherwise."""
    parts = urlsplit(url)
    match = _VERSIONED.match(re.sub(r"/{2,}", "/", parts.path))
    if match is None:
        raise not_found()
    version = api_version(match["version"])
    return Target(version, match["path"].rstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True)))


def dispatch(call: RestCall, method: str, target: Target, body: Any, headers: Mapping[str, str],
             allowed: frozenset[str], context: Context = Context()) -> RestResponse:
    """Answer one subrequest; errors come back as responses (the caller lists them with the others)."""
    sub = call.with_request(target.version, target.params, {k.lower(): v for k, v in headers.items()})
    methods: set[str] = set()
    for route_method, pattern, kind, handler in ROUTES:
        match = pattern.fullmatch(target.path)
        if match is None or kind not in allowed:
            continue
        if route_method != method:
            methods.add(route_method)
            continue
        try:
            return handler(sub, {k: unquote(v) for k, v in match.groupdict().items()}, body, context)
        except ApiError as exc:
            return error_response(exc)
    if methods:
        allowed_text = ",".join(sorted(methods))
        return error_response(ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are "
                                                                  f"{allowed_text}"))
    return error_response(not_found())
