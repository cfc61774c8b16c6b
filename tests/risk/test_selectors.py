"""risk/selectors.py: the read paths, on rows made here (queues, evidence, clusters, statistics,
the rows jobs walk)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from risk.models import Device, DrnSnapshot
from risk.selectors import devices_drn_due
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401

pytestmark = pytest.mark.django_db


def test_due_devices_in_id_order_from_a_checkpoint():
    devices = [
        Device.objects.create(visitor_id=f"pending{i:013d}", platform="android") for i in range(5)
    ]
    Device.objects.create(visitor_id="iosdevice00000000001", platform="ios")  # DRN: Android only
    # devices[1] has a fresh answer; devices[2] a stale one; devices[3] a fresh one but queued.
    fresh = [DrnSnapshot(device=d, visitor_id=d.visitor_id, status="ok") for d in devices[1:4]]
    DrnSnapshot.objects.bulk_create(fresh)
    DrnSnapshot.objects.filter(device=devices[2]).update(
        fetched_at=timezone.now() - timedelta(days=31)
    )
    Device.objects.filter(pk=devices[3].pk).update(drn_lookup_pending=True)
    due = [devices[0], devices[2], devices[3], devices[4]]
    assert list(devices_drn_due(max_age=timedelta(days=30))) == due
    assert list(devices_drn_due(max_age=timedelta(days=30), after=devices[0].pk)) == due[1:]


def test_device_stored_before_its_platform_is_android_by_its_events():
    from risk.models import FingerprintEvent
    from risk.selectors import device_is_android

    legacy = Device.objects.create(visitor_id="legacy00000000000001")
    assert not device_is_android(device=legacy)
    assert list(devices_drn_due(max_age=timedelta(days=30))) == []
    FingerprintEvent.objects.create(event_id="e1", device=legacy, platform="android", raw={})
    assert device_is_android(device=legacy)
    assert list(devices_drn_due(max_age=timedelta(days=30))) == [legacy]


def test_signal_tones_follow_the_rules_thresholds(settings):
    """The evidence page calls a score "bad" and a confidence "ok" by the same thresholds the
    rules use (RISK_SUSPECT_SCORE_REVIEW, RISK_MIN_CONFIDENCE), not by constants of its own."""
    from risk.models import FingerprintEvent, SignupAttempt
    from risk.selectors import attempt_signals

    raw = {"event_id": "1700000000000.abcdef", "suspect_score": 7, "tampering": True}
    raw["identification"] = {"visitor_id": "visitor00000000001", "confidence": {"score": 0.7}}
    snapshot = FingerprintEvent.objects.create(event_id=raw["event_id"], raw=raw)
    attempt = SignupAttempt(fingerprint_event=snapshot, decision="allow")

    def tones() -> dict[str, str]:
        lines = attempt_signals(attempt=attempt)["lines"]
        return {
            text.split()[0]: tone
            for tone, text in lines
            if text.split()[0] in ("suspect", "confidence")
        }

    settings.RISK_SUSPECT_SCORE_REVIEW, settings.RISK_MIN_CONFIDENCE = 5, 0.5
    assert tones() == {"suspect": "bad", "confidence": "ok"}
    settings.RISK_SUSPECT_SCORE_REVIEW, settings.RISK_MIN_CONFIDENCE = 10, 0.9
    assert tones() == {"suspect": "warn", "confidence": "warn"}
