"""DELETE /v4/visitors/{visitor_id} over real HTTP: auth, 200, 404, the feature switch, stats."""

from __future__ import annotations

import requests

from tests.sandbox.conftest import SECRET


def delete(server, visitor_id: str, key: str | None = SECRET) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.delete(f"{server.url}/v4/visitors/{visitor_id}", headers=headers, timeout=10)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_delete_removes_only_that_visitors_events(server, control, v4) -> None:
    gone = control.create_event(visitor_id="visitorAAAAAAAAAAAAA")
    control.create_event(visitor_id="visitorAAAAAAAAAAAAA")
    kept = control.create_event(visitor_id="visitorBBBBBBBBBBBBB")
    response = delete(server, "visitorAAAAAAAAAAAAA")
    assert response.status_code == 200 and response.json() == {}
    assert v4.get(f"/v4/events/{gone['event_id']}").status_code == 404
    assert v4.get("/v4/events", params={"visitor_id": "visitorAAAAAAAAAAAAA"}).json() == {
        "events": []
    }
    assert v4.get(f"/v4/events/{kept['event_id']}").status_code == 200
    # A second delete finds nothing: 404 visitor_not_found.
    again = delete(server, "visitorAAAAAAAAAAAAA")
    assert again.status_code == 404 and error_code(again) == "visitor_not_found"
    stats = control.stats()
    assert stats["requests"]["v4_delete_visitor"] == 2
    assert stats["statuses"]["v4_delete_visitor"] == {"200": 1, "404": 1}


def test_delete_needs_the_secret_key(server, control) -> None:
    control.create_event(visitor_id="visitorCCCCCCCCCCCCC")
    missing = delete(server, "visitorCCCCCCCCCCCCC", key=None)
    assert missing.status_code == 403 and error_code(missing) == "secret_api_key_required"
    wrong = delete(server, "visitorCCCCCCCCCCCCC", key="nope")
    assert wrong.status_code == 403 and error_code(wrong) == "secret_api_key_not_found"
    assert delete(server, "visitorCCCCCCCCCCCCC").status_code == 200


def test_feature_switch_and_faults(server, control, v4) -> None:
    created = control.create_event(visitor_id="visitorDDDDDDDDDDDDD")
    assert control.set_faults(visitor_delete=False)["visitor_delete"] is False
    off = delete(server, "visitorDDDDDDDDDDDDD")
    assert off.status_code == 403 and error_code(off) == "feature_not_enabled"
    assert v4.get(f"/v4/events/{created['event_id']}").status_code == 200  # nothing deleted
    control.clear_faults()  # clearing the faults turns the feature back on
    control.set_faults(target="events", status=503, count=1)
    assert delete(server, "visitorDDDDDDDDDDDDD").status_code == 503
    assert delete(server, "visitorDDDDDDDDDDDDD").status_code == 200
