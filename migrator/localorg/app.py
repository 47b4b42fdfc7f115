"""The FastAPI application of a local org: routers, Salesforce-shaped error handling, middleware.

Every error leaves as Salesforce would send it: ``[{"errorCode", "message"}]`` arrays for REST and
Bulk 2.0 (404 NOT_FOUND for unknown paths, 405 METHOD_NOT_ALLOWED, ...), and anything unexpected as a
500 UNKNOWN_EXCEPTION with an error id (logged with its traceback), never a bare framework page.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

from . import web_admin, web_ingest, web_oauth, web_query, web_rest
from .org import LocalOrg
from .web_common import NOT_FOUND_MESSAGE, ApiError, BadRequestBody, sf_json
from .web_middleware import SalesforceEdge

log = logging.getLogger("migrator.localorg")
ROUTER_MODULES = (web_oauth, web_rest, web_ingest, web_query, web_admin)


def create_app(org: LocalOrg) -> FastAPI:
    app = FastAPI(title="migrator local org", version="1.0", openapi_url="/__admin/openapi.json",
                  docs_url=None, redoc_url=None)
    app.state.org = org
    for module in ROUTER_MODULES:
        app.include_router(module.router)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(BadRequestBody)
    async def bad_body(request: Request, exc: BadRequestBody) -> Response:
        return sf_json([{"errorCode": "API_ERROR", "message": str(exc)}], 400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return sf_json([{"errorCode": "NOT_FOUND", "message": NOT_FOUND_MESSAGE}], 404)
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            return sf_json([{"errorCode": "METHOD_NOT_ALLOWED",
                             "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"}],
                           405, {"Allow": allowed} if allowed else None)
        return sf_json([{"errorCode": "API_ERROR", "message": str(exc.detail)}], exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return sf_json([{"errorCode": "API_ERROR", "message": f"Invalid request: {exc.errors()}"}], 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        error_id = f"{secrets.randbelow(10**9):09d}-{secrets.randbelow(10**5):05d}"
        log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return sf_json([{"errorCode": "UNKNOWN_EXCEPTION",
                         "message": f"An unexpected error occurred. Please include this ErrorId if you contact "
                                    f"support: {error_id}"}], 500)

    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=1)  # loopback: favour speed
    app.add_middleware(SalesforceEdge, org=org)
    return app


def _allowed_methods(request: Request) -> str:
    """Every method some route accepts for this path (Starlette reports only the first route's)."""
    methods: set[str] = set()
    for module in ROUTER_MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
                methods |= route.methods
    return ",".join(sorted(methods - {"HEAD"}))
