"""Server API v4 over real HTTP: auth, lookups, search and PATCH."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_auth_errors(control, v4) -> None:
    event_id = control.create_event()["event_id"]
    missing = v4.get(f"/v4/events/{event_id}", key=None)
    assert missing.status_code == 403 and error_code(missing) == "secret_api_key_required"
    wrong = v4.get(f"/v4/events/{event_id}", key="nope")
    assert wrong.status_code == 403 and error_code(wrong) == "secret_api_key_not_found"
    assert set(wrong.json()["error"]) == {"code", "message"}
    assert v4.get("/v4/events", key=None).status_code == 403
    assert v4.patch(f"/v4/events/{event_id}", {"linked_id": "x"}, key="nope").status_code == 403


def test_get_event_and_404(control, v4) -> None:
    created = control.create_event("vpn", linked_id="order-7")
    response = v4.get(f"/v4/events/{created['event_id']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == created
    missing = v4.get("/v4/events/1708102555327.NOPE00")
    assert missing.status_code == 404 and error_code(missing) == "event_not_found"


def test_search_walks_all_pages_without_duplicates(control, v4) -> None:
    ids = set(control.bulk_events(57, "human", visitors=5, spread_s=60))
    seen: list[str] = []
    key = None
    pages = 0
    while True:
        params = {"limit": 10, **({"pagination_key": key} if key else {})}
        body = v4.get("/v4/events", params=params).json()
        pages += 1
        stamps = [event["timestamp"] for event in body["events"]]
        assert stamps == sorted(stamps, reverse=True)  # newest first
        seen += [event["event_id"] for event in body["events"]]
        key = body.get("pagination_key")
        if key is None:
            break
    assert pages == 6
    assert len(seen) == len(set(seen)) == 57
    assert set(seen) == ids


def test_search_default_limit_and_bad_params(control, v4) -> None:
    control.bulk_events(15)
    assert len(v4.get("/v4/events").json()["events"]) == 10
    for params in (
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"start": "yesterday"},
        {"pagination_key": "%%%"},
        {"bot": "maybe"},
        {"suspect": "perhaps"},
        {"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
    ):
        response = v4.get("/v4/events", params=params)
        assert response.status_code == 400, params
        assert error_code(response) == "request_cannot_be_parsed"


def test_search_time_window(control, v4) -> None:
    now = int(time.time() * 1000)
    old = control.create_event(timestamp_ms=now - 10 * 86_400_000)  # outside the default 7 days
    mid = control.create_event(timestamp_ms=now - 2 * 86_400_000)
    new = control.create_event(timestamp_ms=now - 1000)

    def ids(**params) -> list[str]:
        return [e["event_id"] for e in v4.get("/v4/events", params=params).json()["events"]]

    assert ids() == [new["event_id"], mid["event_id"]]
    assert ids(start=now - 11 * 86_400_000) == [new["event_id"], mid["event_id"], old["event_id"]]
    rfc_end = datetime.fromtimestamp((now - 86_400_000) / 1000, tz=UTC).isoformat()
    assert ids(start=now - 11 * 86_400_000, end=rfc_end) == [mid["event_id"], old["event_id"]]
    assert ids(end=now - 5 * 86_400_000, start=now - 6 * 86_400_000) == []


def test_search_filters(control, v4) -> None:
    human = control.create_event("human")
    bot = control.create_event("bad_bot")
    good = control.create_event("good_bot")
    vpn = control.create_event("vpn")
    control.create_event("human", visitor_id=human["identification"]["visitor_id"])

    def ids(**params) -> set[str]:
        return {e["event_id"] for e in v4.get("/v4/events", params=params).json()["events"]}

    assert ids(bot="bad") == {bot["event_id"]}
    assert ids(bot="good") == {good["event_id"]}
    assert ids(vpn="true") == {vpn["event_id"]}
    assert ids(suspect="true") == {bot["event_id"], vpn["event_id"]}
    assert ids(min_suspect_score=6) == {bot["event_id"]}
    assert len(ids(visitor_id=human["identification"]["visitor_id"])) == 2


def test_patch_event(control, v4) -> None:
    event_id = control.create_event()["event_id"]
    response = v4.patch(f"/v4/events/{event_id}", {"linked_id": "user-42", "tags": {"k": "v"}})
    assert response.status_code == 200 and response.json() == {}
    event = v4.get(f"/v4/events/{event_id}").json()
    assert event["linked_id"] == "user-42" and event["tags"] == {"k": "v"}
    assert v4.patch(f"/v4/events/{event_id}", {"suspect": True}).status_code == 200
    assert control.event_meta(event_id)["suspect"] is True
    assert v4.get("/v4/events", params={"linked_id": "user-42"}).json()["events"][0]["tags"]


@pytest.mark.parametrize(
    "body", [{}, [], {"linked_id": 5}, {"tags": "x"}, {"suspect": "yes"}, {"colour": "red"}]
)
def test_patch_rejects_bad_bodies(control, v4, body) -> None:
    event_id = control.create_event()["event_id"]
    response = v4.patch(f"/v4/events/{event_id}", body)
    assert response.status_code == 400 and error_code(response) == "request_cannot_be_parsed"


def test_patch_unknown_event(v4) -> None:
    assert v4.patch("/v4/events/1.abcdef", {"suspect": False}).status_code == 404


def test_unknown_route_and_method(v4, http) -> None:
    assert v4.get("/v5/events").status_code == 404
    assert http.delete(f"{v4.url}/v4/events").status_code == 405
