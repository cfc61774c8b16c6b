"""sandbox/api/control.py: `GET /_sandbox/feedback`, the suspect flags the sandbox was told."""

from __future__ import annotations

import time

SECRET = "sandbox-secret-key"


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
