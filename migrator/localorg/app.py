"""The FastAPI application of a local org: routers, Salesforce-shaped error handling, middleware.

Every error leaves as Salesforce would send it: ``[{"errorCode", "message"}]`` arrays for REST and
Bulk 2.0 (404 NOT_FOUND for unknown paths, 405 METHOD_NOT_ALLOWED, ...), Bulk 1.0's ``<error>`` /
``{exceptionCode, exceptionMessage}`` under /services/async, and anything unexpected as a 500
(UNKNOWN_EXCEPTION, or InternalServerError in Bulk 1.0) with an error id logged with its traceback,
never a bare framework page.
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

from . import bulk1_web, web_admin, web_composite, web_ingest, web_oauth, web_pace, web_query, web_rest, web_sobjects
from .bulk1_errors import Bulk1Error, error_response, is_bulk1_path, request_format
from .org import LocalOrg
from .web_common import NOT_FOUND_MESSAGE, ApiError, BadRequestBody, sf_json
from .web_middleware import SalesforceEdge

log = logging.getLogger("migrator.localorg")
# web_rest before web_sobjects: GET /sobjects/{name}/describe must win over /sobjects/{name}/{record_id}
ROUTER_MODULES = (web_oauth, web_rest, web_sobjects, web_composite, web_ingest, web_query, web_admin, web_pace,
                  bulk1_web)


def create_app(org: LocalOrg) -> FastAPI:
    app = FastAPI(title="migrator local org", version="1.0", openapi_url="/__admin/openapi.json",
                  docs_url=None, redoc_url=None)
    app.state.org = org
    for module in ROUTER_MODULES:
        app.include_router(module.router)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(Bulk1Error)
    async def bulk1_error(request: Request, exc: Bulk1Error) -> Response:
        return exc.response(request)

    @app.exception_handler(BadRequestBody)
    async def bad_body(request: Request, exc: BadRequestBody) -> Response:
        if is_bulk1_path(request):
            return error_response("ClientInputError", f"Failed to read request: {exc}", 400, request_format(request))
        return sf_json([{"errorCode": "API_ERROR", "message": str(exc)}], 400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if is_bulk1_path(request):  # Bulk 1.0 answers in its own <error> shape
            message = (f"HTTP Method '{request.method}' not allowed. Allowed are {_allowed_methods(request)}"
                       if exc.status_code == 405 else f"Unknown resource: {request.url.path}")
            return error_response("InvalidUrl", message, exc.status_code, request_format(request))
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
        if is_bulk1_path(request):
            return error_response("InvalidUrl", f"Invalid request: {exc.errors()}", 400, request_format(request))
        return sf_json([{"errorCode": "API_ERROR", "message": f"Invalid request: {exc.errors()}"}], 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        error_id = f"{secrets.randbelow(10**9):09d}-{secrets.randbelow(10**5):05d}"
        log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        if is_bulk1_path(request):
            return error_response("InternalServerError", f"An unexpected error occurred. Please include this ErrorId "
                                                         f"if you contact support: {error_id}", 500,
                                  request_format(request))
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
