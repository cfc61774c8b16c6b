"""Signups accepted while Fingerprint was down (unverified), through the real API."""

from rest_framework.test import APIClient


def outage_signups(sandbox, settings, n: int) -> list[dict]:
    """n people, each at home, sign up while Fingerprint answers 500: accepted unverified."""
    settings.FINGERPRINT_MAX_RETRIES = 0
    homes = [f"73.45.3.{i + 1}" for i in range(n)]
    events = [sandbox.create_event(ip=ip) for ip in homes]
    sandbox.set_faults(target="events", status=500)
    for i, (event, ip) in enumerate(zip(events, homes, strict=True)):
        response = APIClient(REMOTE_ADDR=ip).post(
            "/api/signup",
            {"event_id": event["event_id"], "username": f"outage{i}", "password": "x-Pass-word-9"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "pending_review"
    sandbox.clear_faults()
    return events
