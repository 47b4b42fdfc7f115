"""A scripted requests transport for unit tests of client logic (retry-once, headers, rewinding).

Not a stand-in for the local org: integration tests talk to the real server. This only lets a unit
test decide exactly which status a call gets, which a real server cannot be made to do on cue.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from requests.structures import CaseInsensitiveDict

Reply = tuple[int, bytes | str, dict[str, str]]


class ScriptedAdapter(requests.adapters.BaseAdapter):
    def __init__(self, handler: Callable[[requests.PreparedRequest], Reply]):
        super().__init__()
        self.handler = handler
        self.sent: list[requests.PreparedRequest] = []
        self.bodies: list[bytes] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        self.bodies.append(body if isinstance(body, bytes) else (body or "").encode())
        status, content, headers = self.handler(request)
        response = requests.Response()
        response.status_code = status
        response._content = content.encode() if isinstance(content, str) else content
        response._content_consumed = True
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url
        response.request = request
        response.reason = "Scripted"
        return response

    def close(self) -> None:
        pass


def scripted_session(handler: Callable[[requests.PreparedRequest], Reply]) -> tuple[requests.Session,
                                                                                    ScriptedAdapter]:
    session = requests.Session()
    adapter = ScriptedAdapter(handler)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter
