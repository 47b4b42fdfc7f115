"""Test-only control of pacing under ``/__admin/pace`` (not a Salesforce API), beside the faults one:
GET reads the spec and what the model did, POST sets a spec, DELETE turns pacing off. Bearer token
protected like every other call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import Session
from .pacing import PaceSpecError
from .web_common import ApiError, json_body, org_of, require_session, sf_json

router = APIRouter()


@router.get("/__admin/pace")
def get_pace(request: Request, session: Session = Depends(require_session)) -> Response:
    pacer = org_of(request).pacer
    return sf_json({**pacer.spec.as_dict(), "stats": pacer.stats()})


@router.post("/__admin/pace")
async def set_pace(request: Request, session: Session = Depends(require_session)) -> Response:
    """Body: a JSON object of settings (``{"preset": "production", "speed": 5}``) or ``{"spec": "production"}``."""
    body = await json_body(request)
    try:
        spec = org_of(request).pacer.set(body["spec"] if set(body) == {"spec"} else body)
    except PaceSpecError as exc:
        raise ApiError(400, "INVALID_PACE_SPEC", str(exc)) from None
    return sf_json(spec.as_dict())


@router.delete("/__admin/pace")
def clear_pace(request: Request, session: Session = Depends(require_session)) -> Response:
    org_of(request).pacer.set(None)
    return Response(status_code=204)
