"""sandbox/routing.py: the tiny router (404 against 405), requests, and the error bodies of
injected faults in each API family's own words."""

from __future__ import annotations

import json

import pytest

from sandbox.routing import FAULT_ERRORS, Request, Router, error, fault_error, json_response


def handler(name: str):
    return lambda req: json_response(200, {"handled": name, "params": req.params})


def test_placeholders_match_one_segment_and_a_wrong_method_is_told_from_no_route():
    router = Router()
    router.add("GET", "/v4/events/{event_id}", handler("get"), "get")
    router.add("PATCH", "/v4/events/{event_id}", handler("patch"), "patch")

    route, params, exists = router.match("PATCH", "/v4/events/1700000000000.abcdef")
    assert route.name == "patch" and params == {"event_id": "1700000000000.abcdef"} and exists
    assert router.match("DELETE", "/v4/events/x") == (None, {}, True)  # 405, not 404
    assert router.match("GET", "/v4/events/a/b") == (None, {}, False)  # one segment only
    assert router.match("GET", "/v4/events/") == (None, {}, False)


def test_a_request_reads_its_last_query_value_any_header_case_and_an_empty_body():
    req = Request(
        method="POST",
        path="/",
        query={"limit": ["5", "7"]},
        headers={"authorization": "Bearer k"},
    )
    assert req.arg("limit") == "7" and req.arg("missing") is None
    assert req.header("Authorization") == "Bearer k"
    assert req.json() == {}  # no body: an empty object
    assert Request("POST", "/", {}, {}, body=b'{"a": 1}').json() == {"a": 1}
    with pytest.raises(ValueError):
        Request("POST", "/", {}, {}, body=b"not json").json()


def test_error_bodies_use_fingerprints_envelope():
    response = error(404, "event_not_found", "no such event")
    assert response.status == 404 and response.content_type == "application/json"
    assert json.loads(response.body) == {
        "error": {"code": "event_not_found", "message": "no such event"}
    }


@pytest.mark.parametrize("status", sorted(FAULT_ERRORS))
def test_injected_faults_speak_each_api_familys_codes(status):
    v4_code, v3_code, message = FAULT_ERRORS[status]
    v4, v3 = fault_error(status, "v4"), fault_error(status, "v3")
    assert json.loads(v4.body)["error"] == {"code": v4_code, "message": message}
    assert json.loads(v3.body)["error"]["code"] == v3_code
    # v3 sent Retry-After on a 429; v4 does not
    assert (("Retry-After", "1") in v3.headers) == (status == 429)
    assert v4.headers == []


def test_drn_says_not_found_its_own_way_and_an_unlisted_status_still_fails():
    assert json.loads(fault_error(404, "drn").body)["error"]["code"] == "http.not_found"
    odd = fault_error(418, "v4")
    assert odd.status == 418 and json.loads(odd.body)["error"]["code"] == "failed"
