"""A file-backed sandbox keeps events, faults and DRN seeds across restarts; bulk is fast."""

from __future__ import annotations

import time

import requests

from sandbox.control import SandboxControl
from sandbox.server import SandboxServer

AUTH = {"Authorization": "Bearer sandbox-secret-key"}


def test_events_survive_restart(tmp_path) -> None:
    db = str(tmp_path / "sandbox.sqlite3")
    with SandboxServer(db_path=db) as first:
        control = SandboxControl(first.url)
        event = control.create_event("tampering")
        control.set_faults(target="drn", status=503)
        control.seed_drn("seededvisitor0000000", first_seen_at="2026-01-01T00:00:00Z")
        control.close()
    with SandboxServer(db_path=db) as second:
        response = requests.get(f"{second.url}/v4/events/{event['event_id']}", headers=AUTH)
        assert response.status_code == 200 and response.json() == event
        faults = SandboxControl(second.url).faults()["faults"]
        assert faults == [{"target": "drn", "latency_ms": 0, "status": 503, "remaining": None}]
        again = SandboxControl(second.url).create_event(
            "tampering", visitor_id=event["identification"]["visitor_id"]
        )
        assert again["identification"]["first_seen_at"] == event["timestamp"]


def test_bulk_insert_is_fast_and_searchable(server, control) -> None:
    started = time.monotonic()
    ids = control.bulk_events(20_000, "bad_bot", visitors=100, spread_s=3600)
    assert time.monotonic() - started < 5
    assert len(set(ids)) == 20_000
    body = requests.get(
        f"{server.url}/v4/events", params={"limit": 100, "bot": "bad"}, headers=AUTH
    ).json()
    assert len(body["events"]) == 100 and body["pagination_key"]
    sample = requests.get(f"{server.url}/v4/events/{ids[-1]}", headers=AUTH).json()
    assert sample["event_id"] == ids[-1] and sample["suspect_score"] == 10
    assert str(sample["timestamp"]) == ids[-1].split(".")[0]
    assert sample["identification"]["first_seen_at"] == sample["timestamp"]
