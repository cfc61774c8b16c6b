"""Device rows: the one place they are found and created.

A device whose person was erased keeps its row and its counts, but its visitor id is replaced by
a keyed hash of it (`visitor_erased_form`): nothing names the device any more, and yet the
visitor's next signup finds the same row and the same account count, so that erasure is not a
way around the device limit. Every lookup by visitor id here looks for both forms.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from risk.models import Device
from risk.storable import storable_text

ERASED_PREFIX = "erased:"


def visitor_erased_form(visitor_id: str) -> str:
    """What an erased device's visitor id becomes: a keyed hash (SECRET_KEY) that only the
    same visitor id maps to again."""
    digest = salted_hmac("risk.device.erased", visitor_id, algorithm="sha256").hexdigest()
    return ERASED_PREFIX + digest[:48]


def device_forms(visitor_id: str) -> list[str]:
    return [visitor_id, visitor_erased_form(visitor_id)]


def device_of_visitor(visitor_id: str, *, lock: bool = False) -> Device | None:
    """The visitor's device (under its erased form after an erasure); with `lock`, its row is
    locked until the transaction ends."""
    devices = Device.objects.select_for_update() if lock else Device.objects
    found = list(devices.filter(visitor_id__in=device_forms(visitor_id)))
    # Both forms exist only if the visitor signed up again before this lookup learnt of the
    # erased form: the plain one then is the newer row.
    return next((d for d in found if d.visitor_id == visitor_id), found[0] if found else None)


def device_for_signup(*, visitor_id: str, platform: str, lock: bool) -> Device:
    """The signup's device, created when new (a concurrent creation wins and is read back);
    with `lock`, its row stays locked until the transaction ends (SQLite's IMMEDIATE
    transactions already serialise writers). Run it inside a transaction."""
    device = device_of_visitor(visitor_id, lock=lock)
    if device is not None:
        return device
    try:
        with transaction.atomic():  # savepoint: a concurrent first signup may create it
            return Device.objects.create(
                visitor_id=visitor_id, platform=storable_text(platform)[:16]
            )
    except IntegrityError:
        return device_of_visitor(visitor_id, lock=lock)


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
    erased = {visitor_erased_form(v): v for v in platforms}
    known = {}
    rows = Device.objects.filter(visitor_id__in=[*platforms, *erased]).values_list(
        "visitor_id", "pk"
    )
    for stored, pk in rows:
        visitor = erased.get(stored, stored)
        if visitor not in known or stored == visitor:  # the plain form wins, as above
            known[visitor] = pk
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
    device = device_of_visitor(visitor_id)
    if device is None:
        ids, _ = device_ensure(platforms={visitor_id: platform})
        device = Device.objects.get(pk=ids[visitor_id])
    return device
