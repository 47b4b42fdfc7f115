"""OAuth 2.0 as Salesforce answers it: /services/oauth2/token, /revoke, /userinfo, and /id (reference §7).

Every grant names the org's connected app, as in Salesforce: ``password`` (the app's client id and
secret plus the dev username and password; also returns a refresh token), ``refresh_token`` (the
client id; the secret when given must be right), ``client_credentials`` (client id and secret), and
the JWT bearer flow: an RS256 assertion signed with the connected app's key (or the certificate the
org was given), ``iss`` the client id, ``aud`` the org's URL or login/test.salesforce.com, ``sub`` the
username, ``exp`` in the future. Nothing else gets a token: no secret, no token.
Errors are ``{"error": ..., "error_description": ...}`` with HTTP 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs

import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .auth import Session
from .org import LocalOrg
from .web_common import ApiError, not_found, org_of, require_session, sf_json

router = APIRouter()
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        return JSONResponse({"error": self.error, "error_description": self.description}, status_code=self.status)


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the request body is not UTF-8") from None
    values = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    for key, value in request.query_params.items():
        values.setdefault(key, value)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
        values.setdefault("client_id", client_id)
        values.setdefault("client_secret", secret)
    return values


def _grant(org: LocalOrg, form: dict[str, str], instance_url: str) -> tuple[str, bool]:
    """(user id, whether to issue a refresh token) for a token request, or OAuthError."""
    grant = form.get("grant_type", "")
    identity = org.identity
    if grant == "password":
        _check_client(org, form, secret_required=True)
        password = form.get("password", "")
        if form.get("username", "").lower() != identity.username or \
                not hmac.compare_digest(password.encode(), identity.password.encode()):
            raise OAuthError("invalid_grant", "authentication failure")
        return identity.user_id, True
    if grant == "refresh_token":
        _check_client(org, form, secret_required=False)
        user_id = org.sessions.user_of_refresh_token(form.get("refresh_token", ""))
        if user_id is None:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        return user_id, False
    if grant == "client_credentials":
        _check_client(org, form, secret_required=True)
        return identity.user_id, False
    if grant == JWT_GRANT:
        return _jwt_user(org, form.get("assertion", ""), instance_url), False
    raise OAuthError("unsupported_grant_type", "grant type not supported")


def _check_client(org: LocalOrg, form: dict[str, str], secret_required: bool) -> None:
    """The request names the org's connected app, with its secret where the flow needs one."""
    if form.get("client_id", "") != org.identity.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret", "")
    if (secret or secret_required) and not hmac.compare_digest(secret.encode(), org.identity.client_secret.encode()):
        raise OAuthError("invalid_client", "invalid client credentials")


def _audiences(instance_url: str) -> set[str]:
    return {instance_url, instance_url + "/", "https://login.salesforce.com", "https://test.salesforce.com"}


def _jwt_user(org: LocalOrg, assertion: str, instance_url: str) -> str:
    """The user a JWT bearer assertion signs in, checked as Salesforce checks it (signature first)."""
    try:
        claims = jwt.decode(assertion, org.jwt_verification_key(), algorithms=["RS256"],
                            options={"require": ["iss", "sub", "aud", "exp"], "verify_aud": False})
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_grant", "expired authorization code") from None
    except jwt.PyJWTError:  # alg none, another algorithm, a signature by another key, a missing claim, ...
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if claims["iss"] != org.identity.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not _audiences(instance_url).intersection(a for a in audience if isinstance(a, str)):
        raise OAuthError("invalid_grant", "audience is invalid")
    if str(claims["sub"]).lower() != org.identity.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return org.identity.user_id


def _token_response(org: LocalOrg, request: Request, user_id: str, secret: str, refresh: bool) -> dict[str, Any]:
    instance_url = str(request.base_url).rstrip("/")
    identity_url = f"{instance_url}/id/{org.identity.org_id}/{user_id}"
    issued_at = str(int(time.time() * 1000))
    signature = base64.b64encode(hmac.new((secret or org.identity.secret).encode(),
                                          (identity_url + issued_at).encode(), hashlib.sha256).digest()).decode()
    body = {"access_token": org.sessions.issue(user_id), "instance_url": instance_url, "id": identity_url,
            "token_type": "Bearer", "issued_at": issued_at, "signature": signature, "scope": "api refresh_token"}
    if refresh:
        body["refresh_token"] = org.sessions.issue(user_id, "refresh")
    return body


@router.post("/services/oauth2/token")
async def token(request: Request) -> Response:
    org = org_of(request)
    try:
        form = await _form(request)
        user_id, refresh = await run_in_threadpool(_grant, org, form, str(request.base_url).rstrip("/"))
    except OAuthError as exc:
        return exc.response()
    body = await run_in_threadpool(_token_response, org, request, user_id, form.get("client_secret", ""), refresh)
    return JSONResponse(body, headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"})


@router.post("/services/oauth2/revoke")
async def revoke(request: Request) -> Response:
    org = org_of(request)
    try:
        form = await _form(request)
    except OAuthError as exc:
        return exc.response()
    if not form.get("token") or not await run_in_threadpool(org.sessions.revoke, form["token"]):
        return OAuthError("unsupported_token_type", "this token type is not supported").response()
    return Response(status_code=200)


def _user(org: LocalOrg, user_id: str) -> dict[str, Any]:
    row = org.store.conn().execute('SELECT "Username", "FirstName", "LastName", "Email", "IsActive" FROM "User" '
                                   'WHERE "Id" = ?', (user_id,)).fetchone()
    if row is None:
        raise not_found()
    return dict(zip(("Username", "FirstName", "LastName", "Email", "IsActive"), row, strict=True))


@router.get("/services/oauth2/userinfo")
def userinfo(request: Request, session: Session = Depends(require_session)) -> Response:
    org = org_of(request)
    user = _user(org, session.user_id)
    host = str(request.base_url).rstrip("/")
    name = " ".join(p for p in (user["FirstName"], user["LastName"]) if p)
    return sf_json({"sub": f"{host}/id/{org.identity.org_id}/{session.user_id}", "user_id": session.user_id,
                    "organization_id": org.identity.org_id, "preferred_username": user["Username"],
                    "nickname": user["Username"].split("@")[0], "name": name, "email": user["Email"],
                    "email_verified": True, "given_name": user["FirstName"], "family_name": user["LastName"],
                    "zoneinfo": "GMT", "active": bool(user["IsActive"]), "user_type": "STANDARD",
                    "language": "en_US", "locale": "en_US", "utcOffset": 0,
                    "urls": {"rest": f"{host}/services/data/v{{version}}/",
                             "sobjects": f"{host}/services/data/v{{version}}/sobjects/",
                             "query": f"{host}/services/data/v{{version}}/query/"}})


@router.get("/id/{org_id}/{user_id}")
def identity(request: Request, org_id: str, user_id: str, session: Session = Depends(require_session)) -> Response:
    org = org_of(request)
    if org_id != org.identity.org_id:
        raise ApiError(403, "Bad_Id", "Bad Id")
    user = _user(org, user_id)
    host = str(request.base_url).rstrip("/")
    return sf_json({"id": f"{host}/id/{org_id}/{user_id}", "asserted_user": user_id == session.user_id,
                    "user_id": user_id, "organization_id": org_id, "username": user["Username"],
                    "nick_name": user["Username"].split("@")[0],
                    "display_name": " ".join(p for p in (user["FirstName"], user["LastName"]) if p),
                    "email": user["Email"], "active": bool(user["IsActive"]), "user_type": "STANDARD",
                    "language": "en_US", "locale": "en_US", "utcOffset": 0})
