"""sandbox/control.py: the Python client of the control API, against the running sandbox."""

from __future__ import annotations

import pytest

from sandbox.control import SandboxControl, SandboxControlError


def test_an_event_made_through_the_client_reads_back_the_same(control):
    event = control.create_event("vpn", ip="203.0.113.9", tags={"campaign": "x"})
    assert control.get_event(event["event_id"]) == event
    assert event["ip_address"] == "203.0.113.9" and event["tags"] == {"campaign": "x"}
    meta = control.event_meta(event["event_id"])
    assert meta["event"] == event and meta["suspect"] is None


def test_bulk_events_returns_ids_that_all_resolve(control):
    ids = control.bulk_events(5, "bad_bot", visitor_id="BulkVisitor000000001")
    assert len(set(ids)) == 5
    for event_id in ids:
        event = control.get_event(event_id)
        assert event["bot"] == "bad"
        assert event["identification"]["visitor_id"] == "BulkVisitor000000001"


def test_faults_set_listed_and_cleared(control):
    listed = control.set_faults(target="drn", status=503, count=2, drn_rps=2)
    assert listed["faults"] == [{"target": "drn", "latency_ms": 0, "status": 503, "remaining": 2}]
    assert listed["drn_rps"] == 2.0
    assert control.faults() == listed
    cleared = control.clear_faults()
    assert cleared["faults"] == [] and cleared["drn_rps"] != 2.0


def test_drn_seeds_add_up_and_reset_forgets_everything(control):
    control.seed_drn("SeededVisitor0000001", first_seen_at="2026-01-01T00:00:00Z")
    seed = control.seed_drn("SeededVisitor0000001", last_seen_at="2026-02-01T00:00:00Z")
    assert seed == {
        "first_seen_at": "2026-01-01T00:00:00Z",
        "last_seen_at": "2026-02-01T00:00:00Z",
    }
    event_id = control.create_event()["event_id"]
    assert control.stats()["total"] > 0
    control.reset()
    assert control.stats()["requests"] == {"control": 1}  # the reset itself, counted after
    with pytest.raises(SandboxControlError, match="404"):
        control.get_event(event_id)


def test_a_refusal_is_an_error_that_names_the_call_and_the_status(control):
    with pytest.raises(SandboxControlError, match=r"POST /_sandbox/events: 400 .*profile"):
        control.create_event("no_such_profile")


def test_an_unreachable_sandbox_is_an_error_of_the_transport(server):
    client = SandboxControl("http://127.0.0.1:9/", timeout=2)
    with pytest.raises(OSError):
        client.stats()
    client.close()
