"""manage.py backfill_drn against the sandbox's DRN endpoint over real HTTP."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from risk.models import Device, DrnSnapshot, SignupAttempt
from risk.shared_limits import api_limiter
from tests.support.redis_celery import limiter_budget_start, limiter_slots_taken

pytestmark = pytest.mark.django_db


def run(**options) -> str:
    out = io.StringIO()
    call_command("backfill_drn", no_progress=True, stdout=out, **options)
    return out.getvalue()


def android_device(sandbox, **fields) -> Device:
    event = sandbox.create_event("android", age_s=86_400)
    return Device.objects.create(
        visitor_id=event["identification"]["visitor_id"], platform="android", **fields
    )


def lookups(sandbox) -> int:
    return sandbox.stats()["requests"].get("drn", 0)


def test_due_devices_are_looked_up_once(sandbox, settings):
    settings.FINGERPRINT_DRN_RPS = 100
    pending = android_device(sandbox, drn_lookup_pending=True)
    never = android_device(sandbox)
    stale = android_device(sandbox)
    old = DrnSnapshot.objects.create(device=stale, visitor_id=stale.visitor_id, status="ok")
    DrnSnapshot.objects.filter(pk=old.pk).update(fetched_at=timezone.now() - timedelta(days=40))
    fresh = android_device(sandbox)
    DrnSnapshot.objects.create(device=fresh, visitor_id=fresh.visitor_id, status="ok")
    browser = Device.objects.create(visitor_id="browser-visitor-0001", platform="js")
    attempt = SignupAttempt.objects.create(
        username="p", event_id="e1", decision="allow", device=pending
    )
    calls = lookups(sandbox)

    output = run(rps=0, max_age="30d")

    assert lookups(sandbox) - calls == 3
    for device in (pending, never, stale):
        latest = device.drn_snapshots.order_by("-fetched_at", "-pk").first()
        assert latest.status == "ok" and latest.first_seen_at is not None
    assert not Device.objects.get(pk=pending.pk).drn_lookup_pending
    assert fresh.drn_snapshots.count() == 1 and not browser.drn_snapshots.exists()
    attempt.refresh_from_db()
    assert attempt.drn_snapshot.device == pending  # evidence for the signup that lacked it
    assert "ok" in output

    run(rps=0, max_age="30d")  # rerun: nothing due any more
    assert lookups(sandbox) - calls == 3


def test_failures_keep_devices_queued_and_exit_non_zero(sandbox, settings):
    settings.FINGERPRINT_MAX_RETRIES = 0
    device = android_device(sandbox, drn_lookup_pending=True)
    sandbox.set_faults(target="drn", status=500)
    with pytest.raises(CommandError, match="stay queued"):
        run(rps=0)
    assert Device.objects.get(pk=device.pk).drn_lookup_pending
    sandbox.clear_faults()
    run(rps=0)
    assert not Device.objects.get(pk=device.pk).drn_lookup_pending


def test_rps_is_honoured(sandbox, redis_settings):
    """Every lookup draws its slot from the shared budget at --rps (what that costs in time
    is the limiter's own test, tests/risk/test_shared_limits.py)."""
    redis_settings.FINGERPRINT_DRN_RPS = 100
    n, rps = 6, 5.0
    for _ in range(n):
        android_device(sandbox)
    calls = lookups(sandbox)
    budget = api_limiter("backfill_drn", rps)
    since = limiter_budget_start(budget)
    run(rps=rps)
    assert DrnSnapshot.objects.filter(status="ok").count() == n
    assert lookups(sandbox) - calls == n  # each device once
    assert limiter_slots_taken(budget, since) >= n


def test_dry_run_counts_only(sandbox):
    android_device(sandbox, drn_lookup_pending=True)
    calls = lookups(sandbox)
    assert "devices_due" in run(dry_run=True)
    assert lookups(sandbox) == calls and not DrnSnapshot.objects.exists()


def test_bad_max_age_is_refused():
    with pytest.raises(CommandError, match="max-age"):
        run(max_age="soon")
