"""Who and where we are: the org's Id and the user's name, from the OAuth userinfo endpoint.

A migration history is keyed by the org's Id, never by a target name: two names for one org share
a history, and a refreshed sandbox (a new org Id) starts afresh. Salesforce answers
``/services/oauth2/userinfo`` for any token whose connected app has the ``openid`` or ``id`` scope;
when ``organization_id`` is absent the identity URL in ``sub`` (``.../id/<org id>/<user id>``) names
the org too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from migrator.client.http import ApiSession
from migrator.errors import AuthError, BulkApiError

USERINFO_PATH = "/services/oauth2/userinfo"
_IDENTITY_URL = re.compile(r"/id/(?P<org>00D[0-9A-Za-z]{12,15})/(?P<user>005[0-9A-Za-z]{12,15})/?$")


@dataclass(frozen=True)
class OrgIdentity:
    """The org a session is connected to and the user it acts as."""

    org_id: str
    user_id: str
    username: str


def identity_from_userinfo(payload: dict[str, Any]) -> OrgIdentity:
    """Parse a userinfo answer; raises AuthError when it names no org."""
    match = _IDENTITY_URL.search(str(payload.get("sub") or ""))
    org_id = str(payload.get("organization_id") or (match.group("org") if match else ""))
    user_id = str(payload.get("user_id") or (match.group("user") if match else ""))
    if not org_id:
        raise AuthError("the userinfo answer names no organization_id (and no identity URL)")
    username = str(payload.get("preferred_username") or payload.get("email") or user_id)
    return OrgIdentity(org_id=org_id[:15], user_id=user_id, username=username)


def fetch_identity(api: ApiSession) -> OrgIdentity:
    """The org and user of `api`'s session. The org Id is kept in its 15-character form, the form
    Salesforce's identity URLs and userinfo use, so one org always has one key."""
    try:
        response = api.request("GET", USERINFO_PATH)
    except BulkApiError as exc:
        raise type(exc)(f"could not read the org's Id from {USERINFO_PATH} ({exc.api_message}); the "
                        "connected app needs the 'openid' or 'id' scope", status=exc.status,
                        error_code=exc.error_code, url=exc.url) from None
    with response:
        return identity_from_userinfo(response.json())
