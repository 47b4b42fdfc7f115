"""The edge of the HTTP app: what every request and response goes through, as real clients need.

- paths are normalised (``//`` collapsed, trailing ``/`` dropped): Data Loader builds
  ``.../jobs/ingest//`` and ``.../{id}/``, and the docs' examples end in ``/``;
- ``Content-Encoding: gzip`` request bodies are inflated as they stream in;
- every /services/data/vXX.X and /services/async call is metered and answered with
  ``Sforce-Limit-Info: api-usage=<used>/<max>``.
Response gzip (``Accept-Encoding: gzip``) is Starlette's GZipMiddleware.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from .org import LocalOrg
from .web_common import BadRequestBody

_SLASHES = re.compile(r"/{2,}")
_METERED = re.compile(r"^/services/(data/v\d|async/)")


class SalesforceEdge:
    def __init__(self, app: Any, org: LocalOrg):
        self.app = app
        self.org = org

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _SLASHES.sub("/", scope["path"])
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        scope = {**scope, "path": path, "raw_path": path.encode()}
        headers = scope.get("headers", [])
        if any(k == b"content-encoding" and b"gzip" in v.lower() for k, v in headers):
            scope["headers"] = [(k, v) for k, v in headers if k not in (b"content-encoding", b"content-length")]
            receive = _inflating(receive)
        if _METERED.match(path):
            used = self.org.count_call()
            limit = f"api-usage={used}/{self.org.settings.daily_api_requests}".encode()

            async def send_with_usage(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), (b"sforce-limit-info", limit)]}
                await send(message)

            await self.app(scope, receive, send_with_usage)
            return
        await self.app(scope, receive, send)


def _inflating(receive: Any) -> Any:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    received = [0]

    async def receive_inflated() -> dict[str, Any]:
        message = await receive()
        if message["type"] != "http.request":
            return message
        try:
            chunk = message.get("body", b"")
            received[0] += len(chunk)
            body = inflater.decompress(chunk)
            if not message.get("more_body", False):
                body += inflater.flush()
                if received[0] and not inflater.eof:
                    raise BadRequestBody("the gzip request body is truncated")
        except zlib.error as exc:
            raise BadRequestBody(f"the request body is not valid gzip data: {exc}") from None
        return {**message, "body": body}

    return receive_inflated
