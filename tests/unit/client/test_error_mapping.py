"""THE error mapping: HTTP status + errorCode (+ text) -> migrator.errors class."""

from __future__ import annotations

import json

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from migrator.client.error_mapping import classify_error, parse_error_body, raise_for_api_error, transport_error
from migrator.errors import (
    AuthError,
    BulkApiError,
    ConfigError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    TransientApiError,
)

TABLE = [
    (401, "INVALID_SESSION_ID", "Session expired or invalid", AuthError),
    (401, None, "", AuthError),
    (400, "InvalidSessionId", "Invalid session id", AuthError),  # Bulk 1.0 style
    (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", LimitExceededError),
    (403, None, "ConcurrentPerOrgLongTxn Limit exceeded.", LimitExceededError),
    (403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner", AuthError),
    (403, "INSUFFICIENT_ACCESS", "insufficient access rights", AuthError),
    (404, "NOT_FOUND", "The requested resource does not exist", NotFoundError),
    (404, None, "", NotFoundError),
    (400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed", InvalidRequestError),
    (400, "API_ERROR", "Selecting compound data not supported in Bulk Query", InvalidRequestError),
    (400, "MALFORMED_QUERY", "unexpected token", InvalidRequestError),
    (400, "INVALIDENTITY", "Foo is not supported by the Bulk API", InvalidRequestError),
    (400, "API_ERROR", "Max bulk v2 query jobs (10000) per 24 hrs has been reached", LimitExceededError),
    (400, "ExceededQuota", "quota", LimitExceededError),
    (400, "TooManyLockFailure", "Too many lock failure", TransientApiError),
    (400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access", TransientApiError),
    (400, "QUERY_TIMEOUT", "timed out", TransientApiError),
    (405, "METHOD_NOT_ALLOWED", "HTTP Method 'PUT' not allowed", InvalidRequestError),
    (409, None, "API version mismatch", InvalidRequestError),
    (410, "GONE", "retired", InvalidRequestError),
    (413, None, "Request Entity Too Large", LimitExceededError),
    (415, None, "Unsupported Media Type", InvalidRequestError),
    (429, "TooManyRequests", "slow down", TransientApiError),
    (500, "UNKNOWN_EXCEPTION", "An unexpected error occurred", TransientApiError),
    (502, None, "Bad Gateway", TransientApiError),
    (503, "SERVER_UNAVAILABLE", "Server unavailable", TransientApiError),
    (504, None, "", TransientApiError),
]


@pytest.mark.parametrize(("status", "code", "message", "expected"), TABLE)
def test_classify_error_table(status, code, message, expected):
    assert classify_error(status, code, message) is expected


def _response(status: int, body: bytes | str, content_type: str = "application/json;charset=UTF-8",
              url: str = "https://x.my.salesforce.com/services/data/v62.0/jobs/ingest/750X?secret=1"):
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else body
    response.headers = CaseInsensitiveDict({"Content-Type": content_type})
    response.url = url
    response.reason = "Reason"
    return response


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    ('[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]', "application/json",
     ("NOT_FOUND", "The requested resource does not exist")),
    ('{"errorCode":"X","message":"single object"}', "application/json", ("X", "single object")),
    ('{"exceptionCode":"InvalidJob","exceptionMessage":"Unable to find object"}', "application/json",
     ("InvalidJob", "Unable to find object")),
    ('{"error":"invalid_grant","error_description":"authentication failure"}', "application/json",
     ("invalid_grant", "authentication failure")),
    ('<?xml version="1.0"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
     "<exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage>"
     "</error>", "application/xml", ("InvalidSessionId", "Invalid session id")),
    ("<html><body>502 Bad Gateway</body></html>", "text/html",
     (None, "the server answered with an HTML page")),
    ("plain words", "text/plain", (None, "plain words")),
    ("", "", (None, "")),
    ("[not json", "application/json", (None, "[not json")),
    ("[]", "application/json", (None, "[]")),
])
def test_parse_error_body_tolerates_every_shape(body, content_type, expected):
    assert parse_error_body(body, content_type) == expected


def test_raise_for_api_error_builds_structured_error_without_query_string():
    body = json.dumps([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    with pytest.raises(NotFoundError) as caught:
        raise_for_api_error(_response(404, body), job_id="750X")
    error = caught.value
    assert (error.status, error.error_code, error.job_id) == (404, "NOT_FOUND", "750X")
    assert error.url == "https://x.my.salesforce.com/services/data/v62.0/jobs/ingest/750X"
    assert str(error) == "HTTP 404 NOT_FOUND: The requested resource does not exist (job 750X)"
    assert error.as_dict()["message"] == "The requested resource does not exist"


def test_raise_for_api_error_passes_success_through():
    assert raise_for_api_error(_response(201, "")) is None
    assert raise_for_api_error(_response(204, "")) is None


def test_raise_for_api_error_redacts_echoed_secrets():
    body = json.dumps([{"errorCode": "INVALID_AUTH_HEADER",
                        "message": "bad header Bearer 00DXX!tok3n-value"}])
    with pytest.raises(AuthError) as caught:
        raise_for_api_error(_response(401, body), secrets=["00DXX!tok3n-value"])
    assert "00DXX!tok3n-value" not in str(caught.value)
    assert "***" in str(caught.value)


def test_long_non_json_body_is_truncated():
    with pytest.raises(TransientApiError) as caught:
        raise_for_api_error(_response(500, "x" * 5000, "text/plain"))
    assert len(caught.value.api_message) == 500


def test_unexpected_3xx_is_an_error():
    with pytest.raises(InvalidRequestError):
        raise_for_api_error(_response(300, "[]"))


@pytest.mark.parametrize(("exc", "expected"), [
    (requests.ConnectionError("refused"), TransientApiError),
    (requests.ReadTimeout("slow"), TransientApiError),
    (requests.exceptions.ChunkedEncodingError("cut"), TransientApiError),
    (requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), ConfigError),
    (requests.exceptions.SSLError("EOF occurred in violation of protocol"), TransientApiError),
    (requests.exceptions.MissingSchema("no scheme"), ConfigError),
])
def test_transport_errors(exc, expected):
    error = transport_error(exc, "https://h.example/services/data/v62.0/jobs/ingest?x=1", job_id="750A")
    assert type(error) is expected
    if isinstance(error, BulkApiError):
        assert error.job_id == "750A"
        assert "x=1" not in str(error)
