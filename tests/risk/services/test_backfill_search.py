"""risk/services/backfill_search.py: every event of a time range pulled from the Server API
search (the sandbox over real HTTP), page after page, stored once."""

from datetime import UTC, datetime, timedelta

import pytest

from risk.models import BackfillCheckpoint, Device, FingerprintEvent
from risk.services.backfill_search import events_backfill_search, search_checkpoint_name
from risk.services.jobs import BackfillError
from risk.shared_limits import api_limiter

pytestmark = pytest.mark.django_db
UNLIMITED = api_limiter("tests", 0)


def window(days_ago: float) -> tuple[str, str]:
    now = datetime.now(UTC)
    since = now - timedelta(days=days_ago, minutes=10)
    until = now - timedelta(days=days_ago) + timedelta(minutes=10)
    return since.isoformat(), until.isoformat()


def test_the_checkpoint_is_named_after_the_range_as_written():
    assert search_checkpoint_name(since="7d") == "backfill_events:search:7d:now:*"
    named = search_checkpoint_name(since="2026-01-01T00:00:00Z", until="5d", visitor="V1")
    assert named == "backfill_events:search:1767225600000:5d:V1"


def test_every_page_of_the_range_is_stored_with_its_devices(sandbox):
    # An odd age of its own keeps other tests' events out of this window (shared sandbox).
    ids = sandbox.bulk_events(230, visitors=7, age_s=4 * 86_400 + 977, spread_s=300)
    since, until = window((4 * 86_400 + 977 + 150) / 86_400)
    searches = sandbox.stats()["requests"].get("v4_search", 0)
    tally = events_backfill_search(since=since, until=until, limiter=UNLIMITED)
    assert FingerprintEvent.objects.filter(event_id__in=ids).count() == 230
    assert FingerprintEvent.objects.count() == 230 and Device.objects.count() == 7
    assert tally.counts["events_stored"] == 230
    assert sandbox.stats()["requests"]["v4_search"] - searches == 3  # 100 a page
    assert not BackfillCheckpoint.objects.exists()  # a finished pass leaves none


def test_a_dry_run_counts_without_writing(sandbox):
    # Its own odd age too: no other test's search window reaches it.
    ids = sandbox.bulk_events(30, age_s=2 * 86_400 + 5111, spread_s=60)
    since, until = window((2 * 86_400 + 5111 + 30) / 86_400)
    FingerprintEvent.objects.create(event_id=ids[0], raw={"event_id": ids[0]})
    tally = events_backfill_search(since=since, until=until, limiter=UNLIMITED, dry_run=True)
    assert tally.as_dict() == {"would_check_stored": 1, "would_store_new": 29}
    assert FingerprintEvent.objects.count() == 1 and not BackfillCheckpoint.objects.exists()


def test_a_range_backwards_or_a_refused_search_is_a_coded_error(sandbox):
    with pytest.raises(BackfillError) as backwards:
        events_backfill_search(since="1d", until="2d", limiter=UNLIMITED)
    assert backwards.value.code == "invalid_range"
    sandbox.set_faults(target="events", status=400)  # a search Fingerprint cannot parse
    with pytest.raises(BackfillError) as refused:
        events_backfill_search(since="1d", limiter=UNLIMITED)
    assert refused.value.code == "search_refused"
