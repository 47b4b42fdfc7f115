"""The app's last-resort handlers: an unexpected exception is a Salesforce-shaped 500, never a bare page."""

from __future__ import annotations

import asyncio
import logging

import httpx

from migrator.localorg.app import create_app
from migrator.localorg.org import LocalOrg


async def _get(app, *paths: str) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        return [await client.get(path) for path in paths]


def test_unexpected_errors_and_invalid_parameters_are_salesforce_shaped(tmp_path, caplog):
    org = LocalOrg(tmp_path / "org.db")
    try:
        app = create_app(org)

        def boom() -> None:
            raise RuntimeError("a bug")

        def typed(number: int) -> dict:
            return {"number": number}

        app.add_api_route("/boom", boom)
        app.add_api_route("/typed/{number}", typed)
        with caplog.at_level(logging.ERROR, logger="migrator.localorg"):
            crashed, invalid = asyncio.run(_get(app, "/boom", "/typed/abc"))
        [error] = crashed.json()
        assert crashed.status_code == 500 and error["errorCode"] == "UNKNOWN_EXCEPTION"
        assert "Please include this ErrorId" in error["message"] and "a bug" not in error["message"]
        assert "a bug" in caplog.text, "the traceback is logged for the developer"
        assert invalid.status_code == 400 and invalid.json()[0]["errorCode"] == "API_ERROR"
    finally:
        org.close()
