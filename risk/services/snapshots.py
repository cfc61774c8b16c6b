"""The stored copy of a Fingerprint event: its raw JSON, and the columns filtered and sorted on.

Every path that stores an event (signup, verification, webhook, backfills) builds the row here,
so the text in it is storable (risk.storable) and the columns are cut to their sizes.
"""

from __future__ import annotations

from risk.client_ip import clean_ip
from risk.fingerprint.events import Event
from risk.fingerprint.parsing import clamp_int32
from risk.models import Device, FingerprintEvent
from risk.storable import storable_json, storable_text


def event_snapshot_fields(event: Event, *, device: Device | None) -> dict:
    """The columns of `event`'s snapshot row (the raw JSON as Fingerprint sent it, with any
    text no database can store replaced and its paths listed in `text_replaced`)."""
    raw, replaced = storable_json(event.raw)
    return {
        "api_version": event.api_version,
        "device": device,
        "visitor_id": storable_text(event.visitor_id)[:64],
        "timestamp": event.timestamp,
        "ip": clean_ip(event.ip) or None,  # inet column: never store garbage
        "url": storable_text(event.url),
        "platform": storable_text(event.platform)[:16],
        "confidence": event.confidence,
        "bot": storable_text(event.bot)[:32],
        "bot_type": storable_text(event.bot_type)[:64],
        # A 32-bit column: an absurd value is clamped (the exact one stays in `raw`).
        "suspect_score": clamp_int32(event.suspect_score),
        "vpn": event.vpn,
        "proxy": event.proxy,
        "tampering": event.tampering,
        "incognito": event.incognito,
        "tor": event.tor,
        "replayed": event.replayed,
        "country_code": storable_text(event.country_code)[:8],
        "asn_name": storable_text(event.asn_name)[:255],
        "raw": raw,
        "text_replaced": replaced,
    }


def event_snapshot_new(event: Event, *, device: Device | None) -> FingerprintEvent:
    return FingerprintEvent(event_id=event.event_id, **event_snapshot_fields(event, device=device))


def event_snapshot_store(
    *, event: Event, device: Device | None, savepoint: bool = True
) -> FingerprintEvent:
    """The event's snapshot row: stored now, or the one already stored (whose `raw` is never
    rewritten: a decision may have read it). Runs in the caller's transaction. Without
    `savepoint`, a concurrent insert of the same event raises IntegrityError and spoils that
    transaction: for a caller that runs it again (the signup), it saves two statements."""
    if savepoint:
        snapshot, _ = FingerprintEvent.objects.get_or_create(
            event_id=event.event_id, defaults=event_snapshot_fields(event, device=device)
        )
    else:
        snapshot = (
            FingerprintEvent.objects.filter(event_id=event.event_id).only("pk", "device").first()
        )
        if snapshot is None:
            snapshot = event_snapshot_new(event, device=device)
            snapshot.save(force_insert=True)
            return snapshot
    if device is not None and snapshot.device_id is None:
        FingerprintEvent.objects.filter(pk=snapshot.pk, device__isnull=True).update(device=device)
        snapshot.device = device
    return snapshot
