"""sandbox/api/control.py: the control API over real HTTP: what it accepts and what it refuses
(a 400 that names the field), the switches it sets, and `GET /_sandbox/feedback`, the suspect
flags the sandbox was told."""

from __future__ import annotations

import time

import pytest

SECRET = "sandbox-secret-key"


def post(http, server, path: str, body):
    return http.post(f"{server.url}/_sandbox{path}", json=body, timeout=10)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "body must be a JSON object"),
        ({"colour": "red"}, "unknown fields: colour"),
        ({"ip": 7}, "ip has the wrong type"),
        ({"age_s": True}, "age_s has the wrong type"),  # a bool is no number here
        ({"profile": "robot"}, "unknown profile 'robot'"),
    ],
)
def test_event_bodies_are_type_checked(http, server, body, message):
    response = post(http, server, "/events", body)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_nulls_mean_not_given_and_an_age_moves_the_timestamp(http, server):
    response = post(http, server, "/events", {"profile": "ios", "ip": None, "age_s": 3600})
    assert response.status_code == 201
    event = response.json()
    again = post(http, server, "/events", {}).json()
    assert again["timestamp"] - event["timestamp"] >= 3_600_000 - 5_000


@pytest.mark.parametrize("count", [-1, 1_000_001, None])
def test_bulk_needs_a_count_in_range(http, server, count):
    response = post(http, server, "/events/bulk", {"count": count})
    assert response.status_code == 400 and "count must be" in response.json()["error"]["message"]


def test_get_returns_the_stored_text_and_the_suspect_flag_on_request(http, server, control):
    event = control.create_event()
    url = f"{server.url}/_sandbox/events/{event['event_id']}"
    assert http.get(url, timeout=10).json() == event
    http.patch(
        f"{server.url}/v4/events/{event['event_id']}",
        json={"suspect": True},
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=10,
    )
    assert http.get(url, params={"meta": "1"}, timeout=10).json()["suspect"] is True
    missing = http.get(f"{server.url}/_sandbox/events/1700000000000.nope00", timeout=10)
    assert missing.status_code == 404


def test_the_visitor_delete_switch_and_drn_rate_are_settings_reset_clears(http, server, control):
    listed = control.set_faults(visitor_delete=False, drn_rps=1.5, drn_burst=0)
    assert (listed["visitor_delete"], listed["drn_rps"], listed["drn_burst"]) == (False, 1.5, 1)
    assert listed["faults"] == []  # settings only: no fault rule
    control.reset()
    after = control.faults()
    assert after["visitor_delete"] is True and after["drn_rps"] != 1.5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": 302}, "HTTP error status"),
        ({"drn_rps": 0}, "positive number"),
        ({"visitor_delete": "no"}, "must be a boolean"),
        ({"count": "two"}, "must be an integer"),
    ],
)
def test_fault_bodies_the_api_refuses(http, server, body, message):
    response = post(http, server, "/faults", body)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_drn_seeds_validate_their_times_and_fields(http, server):
    visitor = "SeedVisitor000000001"
    ok = post(http, server, f"/drn/{visitor}", {"first_seen_at": "2026-01-01T00:00:00Z"})
    assert ok.status_code == 201 and ok.json() == {"first_seen_at": "2026-01-01T00:00:00Z"}
    assert post(http, server, f"/drn/{visitor}", {"first_seen_at": "soon"}).status_code == 400
    assert post(http, server, f"/drn/{visitor}", {"colour": "red"}).status_code == 400


def test_feedback_lists_every_suspect_flag_in_order_with_its_time(control, v4, server, http):
    first = control.create_event()["event_id"]
    second = control.create_event()["event_id"]
    started = int(time.time() * 1000)
    assert v4.patch(f"/v4/events/{first}", {"suspect": True}).status_code == 200
    assert v4.patch(f"/v4/events/{first}", {"linked_id": "no flag here"}).status_code == 200
    headers = {"Auth-API-Key": SECRET}
    v3 = http.put(f"{server.url}/events/{second}", json={"suspect": True}, headers=headers)
    assert v3.status_code == 200
    assert v4.patch(f"/v4/events/{first}", {"suspect": False}).status_code == 200
    rows = control.feedback()
    assert [(r["event_id"], r["suspect"], r["api"]) for r in rows] == [
        (first, True, "v4"),
        (second, True, "v3"),
        (first, False, "v4"),
    ]
    times = [r["received_at"] for r in rows]
    assert times == sorted(times) and started - 1000 <= times[0] <= int(time.time() * 1000)
    assert [r["suspect"] for r in control.feedback(first)] == [True, False]
    assert http.get(f"{server.url}/_sandbox/feedback", params={"event_id": second}).json() == {
        "feedback": [rows[1]]
    }
    assert control.event_meta(first)["suspect"] is False  # the last flag, as before


def test_refused_updates_are_not_feedback_and_reset_forgets_it(control, v4):
    event_id = control.create_event()["event_id"]
    assert v4.patch(f"/v4/events/{event_id}", {"suspect": "yes"}).status_code == 400
    assert v4.patch(f"/v4/events/{event_id}", {"suspect": True}, key="bad").status_code == 403
    control.set_faults(target="events", status=500, count=1)
    assert v4.patch(f"/v4/events/{event_id}", {"suspect": True}).status_code == 500
    assert control.feedback(event_id) == []
    assert v4.patch(f"/v4/events/{event_id}", {"suspect": True}).status_code == 200
    assert len(control.feedback()) == 1
    control.reset()
    assert control.feedback() == []
