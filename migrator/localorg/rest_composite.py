"""Composite and Composite Batch: several REST calls in one request.

Composite (``POST /composite``) runs up to 25 subrequests in order, at most 5 of them queries or sObject
Collections; a later subrequest may use an earlier one's result through ``@{referenceId.path}``
(``@{refAccount.id}``, ``@{refQuery.records[0].Id}``) in its URL or body. It answers 200
``{"compositeResponse": [{body, httpHeaders, httpStatusCode, referenceId}]}``. With ``allOrNone`` the
subrequests share one transaction: the first failure stops the request and rolls everything back,
and every other subrequest answers 400 PROCESSING_HALTED. Without it each subrequest commits on its
own, and one that names the result of a failed (or unknown) subrequest answers 400 PROCESSING_HALTED
"Invalid reference specified".

Batch (``POST /composite/batch``) runs up to 25 independent subrequests (URLs relative to
``/services/data``, bodies in ``richInput``), each committing on its own; with ``haltOnError`` the
ones after a failure answer 412 BATCH_PROCESSING_HALTED. It answers 200 ``{hasErrors, results:
[{statusCode, result}]}``. Both run on the DML thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .rest_call import RestCall, RestResponse, error_response, flag_of, json_object
from .rest_dispatch import BATCH_KINDS, COMPOSITE_KINDS, Context, Target, dispatch, parse_url
from .rest_dml import RolledBack
from .web_common import ApiError

COMPOSITE_VERSION = 38.0
BATCH_VERSION = 34.0
MAX_SUBREQUESTS = 25
MAX_QUERIES_AND_COLLECTIONS = 5
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"})
_REFERENCE_ID = re.compile(r"[A-Za-z0-9_]{1,80}")
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Subrequest:
    method: str
    url: str
    reference_id: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class UnresolvedReference(Exception):
    def __init__(self, text: str, reference_id: str):
        super().__init__(text)
        self.text = text
        self.reference_id = reference_id


def _subrequests(items: Any, key: str) -> list[Any]:
    if not isinstance(items, list) or not items:
        raise ApiError(400, "JSON_PARSER_ERROR", f"{key}: a list of 1 to {MAX_SUBREQUESTS} subrequests is required")
    if len(items) > MAX_SUBREQUESTS:
        raise ApiError(400, "LIMIT_EXCEEDED", f"{key} has {len(items)} subrequests; the limit is {MAX_SUBREQUESTS}")
    return items


def _method(item: dict[str, Any], number: int) -> str:
    method = item.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number}: method must be one of "
                                                 f"{', '.join(sorted(METHODS))}")
    return method.upper()


def _composite_subrequest(item: Any, number: int, seen: set[str]) -> Subrequest:
    if not isinstance(item, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number} is not a JSON object")
    method = _method(item, number)
    url, reference_id, headers = item.get("url"), item.get("referenceId"), item.get("httpHeaders") or {}
    if not isinstance(url, str) or not url.startswith("/services/data/"):
        raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number}: url must start with /services/data/")
    if not isinstance(reference_id, str) or not _REFERENCE_ID.fullmatch(reference_id):
        raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number}: referenceId must be letters, digits and "
                                                 f"underscores")
    if reference_id in seen:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Duplicate referenceId provided in the request: {reference_id}")
    seen.add(reference_id)
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number}: httpHeaders must map names to strings")
    return Subrequest(method, url, reference_id, item.get("body"), dict(headers))


# -- references ------------------------------------------------------------------------------------------------
def _value(results: dict[str, Any], reference_id: str, path: str) -> Any:
    if reference_id not in results:
        raise UnresolvedReference(f"{reference_id}{path}", reference_id)
    value = results[reference_id]
    for name, index in _PATH_STEP.findall(path):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            raise UnresolvedReference(f"{reference_id}{path}", reference_id)
    if value is None or isinstance(value, dict | list):
        raise UnresolvedReference(f"{reference_id}{path}", reference_id)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _resolve_text(text: str, results: dict[str, Any]) -> str:
    return _REFERENCE.sub(lambda m: _text(_value(results, m[1], m[2])), text)


def _resolve(body: Any, results: dict[str, Any]) -> Any:
    """References replaced in every string of a body; a string that is one reference takes its value's type."""
    if isinstance(body, str):
        whole = _REFERENCE.fullmatch(body)
        return _value(results, whole[1], whole[2]) if whole else _resolve_text(body, results)
    if isinstance(body, list):
        return [_resolve(item, results) for item in body]
    if isinstance(body, dict):
        return {key: _resolve(value, results) for key, value in body.items()}
    return body


def _halted(message: str) -> RestResponse:
    return RestResponse(400, [{"errorCode": "PROCESSING_HALTED", "message": message}])


def _composite_entry(sub: Subrequest, response: RestResponse) -> dict[str, Any]:
    return {"body": response.body, "httpHeaders": dict(response.headers), "httpStatusCode": response.status,
            "referenceId": sub.reference_id}


# -- composite ---------------------------------------------------------------------------------------------------
def composite(call: RestCall, body: Any) -> RestResponse:
    request = json_object(body)
    items = _subrequests(request.get("compositeRequest"), "compositeRequest")
    all_or_none = flag_of(request, "allOrNone")
    flag_of(request, "collateSubrequests")  # accepted; subrequests always run one after another here
    seen: set[str] = set()
    subs = [_composite_subrequest(item, number, seen) for number, item in enumerate(items, start=1)]
    heavy = 0
    for sub in subs:
        try:
            kind = parse_url(_REFERENCE.sub("x", sub.url)).kind()
        except ApiError:
            continue
        heavy += kind in ("query", "collection")
    if heavy > MAX_QUERIES_AND_COLLECTIONS:
        raise ApiError(400, "LIMIT_EXCEEDED", f"A composite request can hold up to {MAX_QUERIES_AND_COLLECTIONS} "
                                              f"query or sObject Collections subrequests; this one has {heavy}")
    responses = _run_all_or_none(call, subs) if all_or_none else _run_each(call, subs)
    return RestResponse(200, {"compositeResponse": [_composite_entry(s, r) for s, r in zip(subs, responses,
                                                                                             strict=True)]})


def _run_one(call: RestCall, sub: Subrequest, results: dict[str, Any], context: Context) -> RestResponse:
    try:
        target = parse_url(_resolve_text(sub.url, results))
        body = _resolve(sub.body, results)
    except UnresolvedReference as exc:
        return _halted(f"Invalid reference specified. No value for {exc.text} found in {exc.reference_id}.")
    except ApiError as exc:
        return error_response(exc)
    return dispatch(call, sub.method, target, body, sub.headers, COMPOSITE_KINDS, context)


def _run_each(call: RestCall, subs: list[Subrequest]) -> list[RestResponse]:
    results: dict[str, Any] = {}
    responses = []
    for sub in subs:
        response = _run_one(call, sub, results, Context())
        if response.status < 400:
            results[sub.reference_id] = response.body
        responses.append(response)
    return responses


def _run_all_or_none(call: RestCall, subs: list[Subrequest]) -> list[RestResponse]:
    results: dict[str, Any] = {}
    responses: list[RestResponse] = []
    store = call.org.store
    try:
        with store.atomic() as conn:
            for sub in subs:
                response = _run_one(call, sub, results, Context(conn, all_or_none=True))
                responses.append(response)
                if response.status >= 400:
                    raise RolledBack()
                results[sub.reference_id] = response.body
    except RolledBack:
        call.org.ingest.index_cache.clear()  # keys of records that were never committed
        failed = len(responses) - 1
        return [responses[failed] if n == failed else _halted(HALTED) for n in range(len(subs))]
    except BaseException:
        call.org.ingest.index_cache.clear()
        raise
    return responses


# -- batch --------------------------------------------------------------------------------------------------------
def batch(call: RestCall, body: Any) -> RestResponse:
    request = json_object(body)
    items = _subrequests(request.get("batchRequests"), "batchRequests")
    halt_on_error = flag_of(request, "haltOnError")
    prepared: list[tuple[str, Target | ApiError, Any]] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number} is not a JSON object")
        method, url = _method(item, number), item.get("url")
        if not isinstance(url, str):
            raise ApiError(400, "JSON_PARSER_ERROR", f"subrequest {number}: url is required")
        try:
            target: Target | ApiError = parse_url(url)
        except ApiError as exc:
            target = exc
        prepared.append((method, target, item.get("richInput")))
    results = []
    has_errors = halted = False
    for method, target, rich_input in prepared:
        if halted:
            results.append({"statusCode": 412, "result": [{"errorCode": "BATCH_PROCESSING_HALTED",
                                                           "message": "Batch processing halted per request"}]})
            continue
        response = error_response(target) if isinstance(target, ApiError) else \
            dispatch(call, method, target, rich_input, {}, BATCH_KINDS)
        results.append({"statusCode": response.status, "result": response.body})
        if response.status >= 400:
            has_errors = True
            halted = halt_on_error
    return RestResponse(200, {"hasErrors": has_errors, "results": results})
