"""sandbox/api/v3.py: the legacy event update, `PUT /events/{request_id}` (Auth-API-Key)."""

from __future__ import annotations

import pytest

SECRET = "sandbox-secret-key"


def put(http, server, path: str, body: object, key: str | None = SECRET):
    headers = {"Auth-API-Key": key} if key else {}
    return http.put(f"{server.url}{path}", json=body, headers=headers, timeout=10)


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
