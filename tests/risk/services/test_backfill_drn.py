"""risk/services/backfill_drn.py: the DRN lookups Android devices are owed, against the
sandbox's DRN over real HTTP: each due device once, failures kept queued."""

from datetime import timedelta

import pytest

from risk.models import Device, DrnSnapshot, SignupAttempt
from risk.services.backfill_drn import drn_backfill
from risk.shared_limits import api_limiter

pytestmark = pytest.mark.django_db
UNLIMITED = api_limiter("tests", 0)
MONTH = timedelta(days=30)


def android(sandbox, **fields) -> Device:
    event = sandbox.create_event("android", age_s=6 * 86_400 + 389)
    return Device.objects.create(
        visitor_id=event["identification"]["visitor_id"], platform="android", **fields
    )


def test_due_devices_get_a_lookup_and_their_waiting_attempt_its_evidence(sandbox):
    queued = android(sandbox, drn_lookup_pending=True)
    never = android(sandbox)
    Device.objects.create(visitor_id="BrowserOnly000000001", platform="js")
    attempt = SignupAttempt.objects.create(
        username="a", event_id="e", decision="allow", device=queued
    )
    tally = drn_backfill(max_age=MONTH, limiter=UNLIMITED)
    assert tally.as_dict() == {"ok": 2}
    attempt.refresh_from_db()
    assert attempt.drn_snapshot.device == queued and attempt.drn_snapshot.status == "ok"
    assert not Device.objects.get(pk=queued.pk).drn_lookup_pending
    assert never.drn_snapshots.get().status == "ok"
    assert drn_backfill(max_age=MONTH, limiter=UNLIMITED).as_dict() == {}  # nothing due now


def test_a_failed_lookup_is_counted_and_stays_queued(sandbox, settings):
    settings.FINGERPRINT_MAX_RETRIES = 0
    device = android(sandbox)
    sandbox.set_faults(target="drn", status=500)
    assert drn_backfill(max_age=MONTH, limiter=UNLIMITED).as_dict() == {"error": 1}
    assert Device.objects.get(pk=device.pk).drn_lookup_pending
    sandbox.clear_faults()
    assert drn_backfill(max_age=MONTH, limiter=UNLIMITED).as_dict() == {"ok": 1}
    assert DrnSnapshot.objects.filter(device=device).count() == 2  # the failure stays on record
