"""sandbox/api/v3.py: the legacy Server API v3 over real HTTP: the auth header, error codes,
search, and the legacy event update, `PUT /events/{request_id}` (Auth-API-Key)."""

from __future__ import annotations

import pytest

SECRET = "sandbox-secret-key"


def get(http, server, path: str, key: str | None = SECRET, **kw):
    headers = {"Auth-API-Key": key} if key else {}
    return http.get(f"{server.url}{path}", headers=headers, timeout=10, **kw)


def put(http, server, path: str, body: object, key: str | None = SECRET):
    headers = {"Auth-API-Key": key} if key else {}
    return http.put(f"{server.url}{path}", json=body, headers=headers, timeout=10)


def test_v3_auth_and_not_found(control, server, http) -> None:
    event_id = control.create_event()["event_id"]
    assert get(http, server, f"/events/{event_id}").status_code == 200
    missing = get(http, server, f"/events/{event_id}", key=None)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "TokenRequired"
    wrong = get(http, server, f"/events/{event_id}", key="bad")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "TokenNotFound"
    unknown = get(http, server, "/events/1708102555327.NOPE00")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "RequestNotFound"


def test_v3_search_pages_and_filters(control, server, http) -> None:
    visitor = control.create_event("human")["identification"]["visitor_id"]
    for _ in range(4):
        control.create_event("human", visitor_id=visitor)
    control.create_event("bad_bot")
    seen = []
    key = None
    while True:
        params = {"limit": 2, "visitor_id": visitor, **({"paginationKey": key} if key else {})}
        body = get(http, server, "/events/search", params=params).json()
        seen += [e["products"]["identification"]["data"]["requestId"] for e in body["events"]]
        key = body.get("paginationKey")
        if not key:
            break
    assert len(seen) == len(set(seen)) == 5
    bots = get(http, server, "/events/search", params={"limit": 10, "bot": "bad"}).json()
    assert [e["products"]["botd"]["data"]["bot"]["result"] for e in bots["events"]] == ["bad"]
    no_limit = get(http, server, "/events/search")
    assert no_limit.status_code == 400
    assert no_limit.json()["error"]["code"] == "RequestCannotBeParsed"


def test_v3_velocity_always_has_the_linked_id_metrics(control, server, http) -> None:
    # v3 sends them as {} without a linked id; Fingerprint's Python SDK (v8) rejects their absence
    event_id = control.create_event("human")["event_id"]
    velocity = get(http, server, f"/events/{event_id}").json()["products"]["velocity"]["data"]
    for metric in ("distinctLinkedId", "distinctIpByLinkedId", "distinctVisitorIdByLinkedId"):
        assert velocity[metric] == {}
    assert velocity["distinctIp"]["intervals"]["5m"] >= 1


def test_put_sets_linked_id_tag_and_the_suspect_flag(control, server, http) -> None:
    event_id = control.create_event()["event_id"]
    body = {"linkedId": "user-42", "tag": {"k": "v"}, "suspect": True}
    response = put(http, server, f"/events/{event_id}", body)
    assert response.status_code == 200 and response.json() == {}
    event = control.get_event(event_id)
    assert event["linked_id"] == "user-42" and event["tags"] == {"k": "v"}
    assert control.event_meta(event_id)["suspect"] is True
    assert put(http, server, f"/events/{event_id}", {"suspect": False}).status_code == 200
    assert control.event_meta(event_id)["suspect"] is False
    assert [(row["suspect"], row["api"]) for row in control.feedback(event_id)] == [
        (True, "v3"),
        (False, "v3"),
    ]
    assert control.stats()["requests"]["v3_update_event"] == 2


def test_put_auth_and_unknown_request(control, server, http) -> None:
    event_id = control.create_event()["event_id"]
    missing = put(http, server, f"/events/{event_id}", {"suspect": True}, key=None)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "TokenRequired"
    wrong = put(http, server, f"/events/{event_id}", {"suspect": True}, key="bad")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "TokenNotFound"
    unknown = put(http, server, "/events/1708102555327.NOPE00", {"suspect": True})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "RequestNotFound"
    assert control.feedback(event_id) == []


@pytest.mark.parametrize(
    "body", [{}, [], {"linkedId": 5}, {"tag": "x"}, {"suspect": "yes"}, {"linked_id": "v4 name"}]
)
def test_put_refuses_bad_bodies(control, server, http, body) -> None:
    event_id = control.create_event()["event_id"]
    response = put(http, server, f"/events/{event_id}", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "RequestCannotBeParsed"


def test_put_refuses_events_older_than_a_month(control, server, http) -> None:
    event_id = control.create_event(age_s=31 * 86400)["event_id"]
    response = put(http, server, f"/events/{event_id}", {"suspect": True})
    assert response.status_code == 400 and "older than a month" in response.text
    assert control.event_meta(event_id)["suspect"] is None and control.feedback(event_id) == []


def test_put_is_faulted_like_the_other_event_endpoints(control, server, http) -> None:
    event_id = control.create_event()["event_id"]
    control.set_faults(target="events", status=409, count=1)
    busy = put(http, server, f"/events/{event_id}", {"suspect": True})
    assert busy.status_code == 409
    assert put(http, server, f"/events/{event_id}", {"suspect": True}).status_code == 200
    assert [row["suspect"] for row in control.feedback(event_id)] == [True]
