"""Test-only controls under ``/__admin`` (not a Salesforce API): fault injection, protected by the
org's Bearer token like every other call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import Session
from .faults import FaultSpecError
from .web_common import ApiError, json_body, org_of, require_session, sf_json

router = APIRouter()


@router.get("/__admin/faults")
def get_faults(request: Request, session: Session = Depends(require_session)) -> Response:
    return sf_json(org_of(request).faults.spec.as_dict())


@router.post("/__admin/faults")
async def set_faults(request: Request, session: Session = Depends(require_session)) -> Response:
    """Body: a JSON object of faults (``{"lock_rate": 0.1, "seed": 7}``) or ``{"spec": "lock_rate=0.1"}``."""
    body = await json_body(request)
    try:
        spec = org_of(request).faults.set(body["spec"] if set(body) == {"spec"} else body)
    except FaultSpecError as exc:
        raise ApiError(400, "INVALID_FAULT_SPEC", str(exc)) from None
    return sf_json(spec.as_dict())


@router.delete("/__admin/faults")
def clear_faults(request: Request, session: Session = Depends(require_session)) -> Response:
    org_of(request).faults.set(None)
    return Response(status_code=204)
