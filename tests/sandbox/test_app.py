"""Fault injection and request statistics."""

from __future__ import annotations

import time

import pytest

from sandbox.control import SandboxControlError

SECRET = "sandbox-secret-key"


def test_latency_fault(control, v4) -> None:
    event_id = control.create_event()["event_id"]
    control.set_faults(target="events", latency_ms=300)
    started = time.monotonic()
    assert v4.get(f"/v4/events/{event_id}").status_code == 200
    assert time.monotonic() - started >= 0.3
    control.clear_faults()
    started = time.monotonic()
    v4.get(f"/v4/events/{event_id}")
    assert time.monotonic() - started < 0.2


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "too_many_requests"),
        (500, "failed"),
        (503, "service_unavailable"),
        (504, "request_read_timeout"),
    ],
)
def test_status_fault_with_count(control, v4, status: int, code: str) -> None:
    event_id = control.create_event()["event_id"]
    control.set_faults(status=status, count=2)
    for _ in range(2):
        response = v4.get(f"/v4/events/{event_id}")
        assert response.status_code == status
        assert response.json() == {
            "error": {"code": code, "message": response.json()["error"]["message"]}
        }
        assert "Retry-After" not in response.headers
    assert v4.get(f"/v4/events/{event_id}").status_code == 200
    stats = control.stats()
    assert stats["requests"]["v4_get_event"] == 3
    assert stats["statuses"]["v4_get_event"] == {str(status): 2, "200": 1}
    assert stats["faults_applied"]["v4_get_event"] == 2


def test_fault_targets_and_v3_bodies(control, server, http, v4) -> None:
    event_id = control.create_event()["event_id"]
    control.set_faults(target="drn", status=500)
    assert v4.get(f"/v4/events/{event_id}").status_code == 200  # events untouched
    control.clear_faults()
    control.set_faults(target="events", status=429, count=1)
    response = http.get(f"{server.url}/events/{event_id}", headers={"Auth-API-Key": SECRET})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert control.stats()["requests"].get("drn", 0) == 0


def test_faults_do_not_touch_control_api(control) -> None:
    control.set_faults(status=500)
    assert control.create_event()["event_id"]
    assert control.clear_faults()["faults"] == []


def test_bad_fault_bodies(control) -> None:
    for body in ({"target": "everything"}, {"status": 200}, {"latency_ms": "slow"}, {"x": 1}):
        with pytest.raises(SandboxControlError):
            control.set_faults(**body)
