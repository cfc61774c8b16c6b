"""risk/services/backfill_chunks.py: the missing-snapshot backfill cut into key ranges that
cover every waiting attempt once, each range fetched and stored on its own."""

import itertools

import pytest

from risk.models import FingerprintEvent, SignupAttempt
from risk.services.backfill_chunks import events_backfill_range, missing_chunks_plan
from risk.shared_limits import api_limiter

pytestmark = pytest.mark.django_db


def waiting(n: int, event_ids=None) -> list[SignupAttempt]:
    ids = event_ids or [f"1700000000000.ch{i:04d}" for i in range(n)]
    return [
        SignupAttempt.objects.create(username=f"c{i}", event_id=event_id, decision="review")
        for i, event_id in enumerate(ids)
    ]


def test_the_plan_covers_every_waiting_attempt_once_in_contiguous_ranges():
    rows = waiting(10)
    FingerprintEvent.objects.create(event_id="stored", raw={"event_id": "stored"})
    SignupAttempt.objects.create(
        username="done", event_id="stored", decision="allow",
        fingerprint_event=FingerprintEvent.objects.get(event_id="stored"),
    )  # fmt: skip
    plan = missing_chunks_plan(phase="attempts", chunks=3, min_size=2)
    assert len(plan) == 3 and plan[0][0] == 0 and plan[-1][1] == rows[-1].pk
    assert all(upto == after for (_, upto), (after, _) in itertools.pairwise(plan))
    covered = [r.pk for r in rows if any(after < r.pk <= upto for after, upto in plan)]
    assert covered == [r.pk for r in rows]
    assert len(missing_chunks_plan(phase="attempts", chunks=3, min_size=100)) == 1  # too few
    with pytest.raises(ValueError, match="unknown phase"):
        missing_chunks_plan(phase="nothing", chunks=2)


def test_nothing_waiting_plans_nothing():
    assert missing_chunks_plan(phase="attempts", chunks=4) == []


def test_a_range_fills_its_own_attempts_only_and_running_it_twice_changes_nothing(sandbox):
    events = [sandbox.create_event() for _ in range(6)]
    rows = waiting(6, [e["event_id"] for e in events])
    limiter = api_limiter("tests", 0)
    tally = events_backfill_range(
        phase="attempts", after=rows[1].pk, upto=rows[4].pk, limiter=limiter, batch_size=2
    )
    assert tally.as_dict() == {
        "fetched": 3,
        "events_stored": 3,
        **{k: v for k, v in tally.as_dict().items() if k not in ("fetched", "events_stored")},
    }
    filled = set(
        SignupAttempt.objects.filter(fingerprint_event__isnull=False).values_list("pk", flat=True)
    )
    assert filled == {rows[2].pk, rows[3].pk, rows[4].pk}
    fetches = sandbox.stats()["requests"].get("v4_get_event", 0)
    again = events_backfill_range(
        phase="attempts", after=rows[1].pk, upto=rows[4].pk, limiter=limiter
    )
    assert again.as_dict() == {} and sandbox.stats()["requests"].get("v4_get_event", 0) == fetches
