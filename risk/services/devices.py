"""The one way to make sure Device rows exist (the signup's locked upsert aside, which also
counts the attempt under the row lock: see risk.services.signup.device_lock_for_attempt)."""

from __future__ import annotations

from collections.abc import Mapping

from risk.models import Device


def device_ensure(*, platforms: Mapping[str, str]) -> tuple[dict[str, int], int]:
    """Create the devices of these visitor ids that do not exist yet.

    `platforms` maps visitor_id -> platform ("" when unknown); empty visitor ids are ignored.
    Returns (visitor_id -> Device pk, how many rows this call created). Safe under
    concurrency: ON CONFLICT DO NOTHING, so a signup creating the same device meanwhile wins
    and we read its row.
    """
    platforms = {v: p[:16] for v, p in platforms.items() if v}
    if not platforms:
        return {}, 0
    known = dict(Device.objects.filter(visitor_id__in=platforms).values_list("visitor_id", "pk"))
    missing = [v for v in platforms if v not in known]
    if not missing:
        return known, 0
    Device.objects.bulk_create(
        [Device(visitor_id=v, platform=platforms[v]) for v in missing],
        ignore_conflicts=True,
        batch_size=500,
    )
    created = dict(Device.objects.filter(visitor_id__in=missing).values_list("visitor_id", "pk"))
    return {**known, **created}, len(created)


def device_ensure_one(*, visitor_id: str, platform: str = "") -> Device:
    """`device_ensure` for one visitor, returning the row (one query when it exists)."""
    device = Device.objects.filter(visitor_id=visitor_id).first()
    if device is None:
        ids, _ = device_ensure(platforms={visitor_id: platform})
        device = Device.objects.get(pk=ids[visitor_id])
    return device
