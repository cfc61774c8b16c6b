"""sandbox/drn.py: DRN's per-key token bucket and the body derived from a visitor's events."""

from __future__ import annotations

import json
import time

import pytest

from sandbox import drn
from sandbox.factory import create_event
from sandbox.store import Store

DAY_MS = 86_400_000


def test_the_bucket_serves_a_burst_then_refuses_per_key_and_refills():
    bucket = drn.TokenBucket()
    assert [bucket.allow("k", rps=20, burst=3) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("other-key", rps=20, burst=3)  # another key has its own bucket
    time.sleep(0.06)  # one token back at 20/s
    assert bucket.allow("k", rps=20, burst=3)
    bucket.reset()
    assert all(bucket.allow("k", rps=20, burst=3) for _ in range(3))


@pytest.mark.parametrize(
    ("score", "share"), [(0, 0), (3, 0.25), (5, 0.25), (9, 0.5), (20, 0.75), (21, 0.95)]
)
def test_percentile_bands(score, share):
    assert drn.percentile(score) == share


def test_a_visitor_never_seen_on_android_is_unknown_unless_seeded():
    assert drn.drn_body([], None, list(drn.SIGNALS), now_ms=10 * DAY_MS) is None
    browser = [(DAY_MS, "js", 0, "{}")]
    assert drn.drn_body(browser, None, list(drn.SIGNALS), now_ms=10 * DAY_MS) is None
    seeded = drn.drn_body([], {"first_seen_at": "2026-01-01T00:00:00Z"}, ["timestamps"], 0)
    assert seeded == {"data": {"timestamps": {"firstSeenAt": "2026-01-01T00:00:00Z",
                                              "lastSeenAt": None}}}  # fmt: skip


def rows_of(store: Store, visitor: str):
    return store.visitor_events(visitor)


def test_the_body_is_derived_from_the_last_30_days_of_android_events():
    store = Store(":memory:")
    now = 100 * DAY_MS
    visitor = "DrnVisitor0000000001"
    old = create_event(store, "android", visitor_id=visitor, timestamp_ms=now - 40 * DAY_MS)
    recent = create_event(store, "android", visitor_id=visitor, timestamp_ms=now - DAY_MS)
    body = drn.drn_body(rows_of(store, visitor), None, list(drn.SIGNALS), now_ms=now)["data"]

    assert body["timestamps"] == {
        "firstSeenAt": drn.minute_iso(old["timestamp"]),
        "lastSeenAt": drn.minute_iso(recent["timestamp"]),
    }
    score = recent["suspect_score"]
    assert body["suspectScore"]["maximum"]["value"] == score  # the old event is outside
    assert body["suspectScore"]["maximum"]["percentile"] == drn.percentile(score)
    geo = recent["ip_info"]["v4"]["geolocation"]["country_code"]
    assert [c["code"] for c in body["regionalActivity"]["countries"]] == [geo]
    json.dumps(body)  # JSON all the way down


def test_only_the_signals_asked_for_and_a_seed_replaces_the_derived_part():
    store = Store(":memory:")
    now = 100 * DAY_MS
    visitor = "DrnVisitor0000000002"
    create_event(store, "android", visitor_id=visitor, timestamp_ms=now - DAY_MS)
    seed = {"suspect_score": {"maximum": {"value": 99, "percentile": 0.99, "signals": {}}}}
    body = drn.drn_body(rows_of(store, visitor), seed, ["suspect_score"], now_ms=now)["data"]
    assert set(body) == {"suspectScore"}
    assert body["suspectScore"]["maximum"]["value"] == 99
