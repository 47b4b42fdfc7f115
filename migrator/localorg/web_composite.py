"""HTTP routes of the composite resources: composite, batch and sObject Tree (reference §8).

Each request runs whole on the DML thread, so its subrequests see one another's writes in order and
an allOrNone composite or a tree can roll back as one transaction.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from . import rest_composite, rest_tree
from .auth import Session
from .rest_call import call_of, on_dml_thread
from .rest_collections import COLLECTIONS_VERSION
from .web_common import api_version, json_value, require_session, sf_json

router = APIRouter()
COMPOSITE = "/services/data/v{version}/composite"


@router.get(COMPOSITE)
def resources(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    api_version(version, rest_composite.BATCH_VERSION)
    base = f"/services/data/v{version}/composite"
    listing = {"batch": f"{base}/batch", "tree": f"{base}/tree"}
    if float(version) >= COLLECTIONS_VERSION:
        listing["sobjects"] = f"{base}/sobjects"
    return sf_json(listing)


@router.post(COMPOSITE)
async def composite(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, rest_composite.COMPOSITE_VERSION)
    return await on_dml_thread(call, rest_composite.composite, await json_value(request))


@router.post(COMPOSITE + "/batch")
async def batch(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, rest_composite.BATCH_VERSION)
    return await on_dml_thread(call, rest_composite.batch, await json_value(request))


@router.post(COMPOSITE + "/tree/{name}")
async def tree(request: Request, version: str, name: str, session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, rest_tree.TREE_VERSION)
    return await on_dml_thread(call, rest_tree.tree, name, await json_value(request))
