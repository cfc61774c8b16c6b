"""risk/services/backfill_missing.py: attempts missing their snapshot get it from the Server API
(the sandbox over real HTTP); unknown ids are remembered, unavailable ones left for next time."""

import pytest

from risk.models import FingerprintEvent, SignupAttempt, UnknownEvent
from risk.services import backfill_missing
from risk.shared_limits import api_limiter

pytestmark = pytest.mark.django_db
UNLIMITED = api_limiter("tests", 0)


def waiting(event_id: str, username: str) -> SignupAttempt:
    return SignupAttempt.objects.create(username=username, event_id=event_id, decision="review")


def test_fetches_by_id_in_threads_and_says_what_each_one_was(sandbox, settings):
    settings.FINGERPRINT_MAX_RETRIES = 0
    ids = [sandbox.create_event()["event_id"] for _ in range(4)]
    outcomes = backfill_missing.events_fetch_by_id(
        event_ids=[*ids, "1700000000000.nosuch"], limiter=UNLIMITED, workers=3
    )
    assert [o.outcome for o in outcomes] == ["fetched"] * 4 + ["not_found"]
    assert [o.event.event_id for o in outcomes[:4]] == ids  # in the order asked
    sandbox.set_faults(target="events", status=503)
    (down,) = backfill_missing.events_fetch_by_id(event_ids=ids[:1], limiter=UNLIMITED)
    assert down.outcome == "unavailable" and down.event is None and "503" in down.error


def test_a_pass_stores_links_remembers_unknown_ids_and_a_rerun_asks_nothing(sandbox):
    events = [sandbox.create_event() for _ in range(3)]
    attempts = [waiting(e["event_id"], f"w{i}") for i, e in enumerate(events)]
    waiting("1700000000000.forged", "forger")
    assert backfill_missing.missing_events_count() == {"attempts": 4}
    preview = backfill_missing.events_missing_preview().as_dict()
    assert preview["would_fetch_events"] == 4 and "would_link_stored_events" not in preview

    tally = backfill_missing.events_backfill_missing(limiter=UNLIMITED, batch_size=2).as_dict()

    assert tally["fetched"] == 3 and tally["not_found"] == 1
    for attempt, event in zip(attempts, events, strict=True):
        attempt.refresh_from_db()
        assert attempt.fingerprint_event.raw == event
        assert attempt.device.visitor_id == event["identification"]["visitor_id"]
    assert UnknownEvent.objects.filter(event_id="1700000000000.forged").exists()
    assert backfill_missing.missing_events_count() == {"attempts": 0}
    fetches = sandbox.stats()["requests"].get("v4_get_event", 0)
    backfill_missing.events_backfill_missing(limiter=UNLIMITED)
    assert sandbox.stats()["requests"].get("v4_get_event", 0) == fetches


def test_a_snapshot_already_stored_is_linked_without_a_fetch(sandbox):
    event = sandbox.create_event()
    fetched = backfill_missing.events_fetch_by_id(event_ids=[event["event_id"]], limiter=UNLIMITED)
    backfill_missing.missing_batch_store(
        stored=set(), outcomes=fetched, tally=backfill_missing.Tally()
    )
    attempt = waiting(event["event_id"], "late")
    rows = backfill_missing.missing_rows("attempts", 0, 10)
    assert rows == [(attempt.pk, event["event_id"])]
    stored, outcomes = backfill_missing.missing_batch_fetch(rows=rows, limiter=UNLIMITED)
    assert stored == {event["event_id"]} and outcomes == []  # nothing to ask Fingerprint
    backfill_missing.missing_batch_store(
        stored=stored, outcomes=outcomes, tally=backfill_missing.Tally()
    )
    attempt.refresh_from_db()
    assert attempt.fingerprint_event == FingerprintEvent.objects.get(event_id=event["event_id"])


def test_rows_are_walked_in_key_order_within_a_range():
    rows = [waiting(f"1700000000000.row{i:03d}", f"r{i}") for i in range(5)]
    page = backfill_missing.missing_rows("attempts", rows[0].pk, 2, upto=rows[2].pk)
    assert [pk for pk, _ in page] == [rows[1].pk, rows[2].pk]
    with pytest.raises(ValueError, match="unknown phase"):
        backfill_missing.missing_rows("accounts", 0, 10)
