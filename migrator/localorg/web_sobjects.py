"""HTTP routes of sObject Rows, sObject Rows by External ID and sObject Collections (reference §8).

Thin: each route checks the version and session, parses the body, and runs the resource function
(rest_sobjects, rest_collections) on the DML thread for writes or a worker thread for reads.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from . import rest_collections, rest_sobjects
from .auth import Session
from .multipart import form_parts
from .rest_call import call_of, off_the_loop, on_dml_thread
from .rest_collections import COLLECTIONS_UPSERT_VERSION, COLLECTIONS_VERSION
from .rest_sobjects import ID_AS_EXTERNAL_ID_VERSION
from .web_common import json_value, not_found, require_session

router = APIRouter()
SOBJECT = "/services/data/v{version}/sobjects/{name}"
COLLECTIONS = "/services/data/v{version}/composite/sobjects"


# -- sObject rows -------------------------------------------------------------------------------------------
@router.post(SOBJECT)
async def create(request: Request, version: str, name: str, session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session)
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/"):
        parts = form_parts(content_type, await request.body())
        return await on_dml_thread(call, rest_sobjects.create_with_blob, name, parts)
    return await on_dml_thread(call, rest_sobjects.create, name, await json_value(request))


@router.get(SOBJECT + "/{record_id}")
async def retrieve(request: Request, version: str, name: str, record_id: str,
                   session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_sobjects.retrieve, name, record_id)


@router.patch(SOBJECT + "/{record_id}")
async def update(request: Request, version: str, name: str, record_id: str,
                 session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session)
    return await on_dml_thread(call, rest_sobjects.update, name, record_id, await json_value(request))


@router.delete(SOBJECT + "/{record_id}")
async def delete(request: Request, version: str, name: str, record_id: str,
                 session: Session = Depends(require_session)) -> Response:
    return await on_dml_thread(call_of(request, version, session), rest_sobjects.delete, name, record_id)


@router.post(SOBJECT + "/{field_name}")
async def create_by_id(request: Request, version: str, name: str, field_name: str,
                       session: Session = Depends(require_session)) -> Response:
    """v37.0+: ``POST /sobjects/X/Id`` creates a record (Id as the external id, its value null)."""
    call = call_of(request, version, session, ID_AS_EXTERNAL_ID_VERSION)
    if field_name.lower() != "id":
        raise not_found()
    return await on_dml_thread(call, rest_sobjects.upsert, name, "Id", None, await json_value(request))


# -- sObject rows by external id (and blobs, which share the path shape) ---------------------------------------
@router.get(SOBJECT + "/{first}/{second}")
async def blob_or_by_external_id(request: Request, version: str, name: str, first: str, second: str,
                                 session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session), rest_sobjects.blob_or_external_id, name, first,
                              second)


@router.patch(SOBJECT + "/{field_name}/{value}")
@router.post(SOBJECT + "/{field_name}/{value}")
async def upsert(request: Request, version: str, name: str, field_name: str, value: str,
                 session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session)
    return await on_dml_thread(call, rest_sobjects.upsert, name, field_name, value, await json_value(request))


@router.delete(SOBJECT + "/{field_name}/{value}")
async def delete_by_external_id(request: Request, version: str, name: str, field_name: str, value: str,
                                session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session)
    return await on_dml_thread(call, rest_sobjects.delete_by_external_id, name, field_name, value)


# -- sObject Collections ---------------------------------------------------------------------------------------
@router.post(COLLECTIONS)
async def collection_create(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, COLLECTIONS_VERSION)
    return await on_dml_thread(call, rest_collections.create, await json_value(request))


@router.patch(COLLECTIONS)
async def collection_update(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, COLLECTIONS_VERSION)
    return await on_dml_thread(call, rest_collections.update, await json_value(request))


@router.delete(COLLECTIONS)
async def collection_delete(request: Request, version: str, session: Session = Depends(require_session)) -> Response:
    return await on_dml_thread(call_of(request, version, session, COLLECTIONS_VERSION), rest_collections.delete)


@router.get(COLLECTIONS + "/{name}")
async def collection_retrieve(request: Request, version: str, name: str,
                              session: Session = Depends(require_session)) -> Response:
    return await off_the_loop(call_of(request, version, session, COLLECTIONS_VERSION), rest_collections.retrieve, name)


@router.post(COLLECTIONS + "/{name}")
async def collection_retrieve_many(request: Request, version: str, name: str,
                                   session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, COLLECTIONS_VERSION)
    return await off_the_loop(call, rest_collections.retrieve, name, await json_value(request))


@router.patch(COLLECTIONS + "/{name}/{field_name}")
async def collection_upsert(request: Request, version: str, name: str, field_name: str,
                            session: Session = Depends(require_session)) -> Response:
    call = call_of(request, version, session, COLLECTIONS_UPSERT_VERSION)
    return await on_dml_thread(call, rest_collections.upsert, name, field_name, await json_value(request))
