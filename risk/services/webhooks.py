"""Store events that Fingerprint pushes to our webhook."""

import json

from django.db import transaction

from risk.fingerprint.events import EventFormatError, normalise_event
from risk.models import Device, FingerprintEvent
from risk.services.signup import event_snapshot_store


def event_webhook_store(*, body: bytes) -> FingerprintEvent:
    """Upsert the event by event_id. Attempts waiting for it (signups taken while the Server
    API was unreachable) are linked by `manage.py backfill_events`, which finds it here."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventFormatError("webhook body is not JSON") from exc
    event = normalise_event(payload)
    if not event.event_id:
        raise EventFormatError("webhook event has no event id")
    stripped = FingerprintEvent.objects.filter(event_id=event.event_id, raw={}).first()
    if stripped is not None:
        # Erased or past retention (docs/privacy.md): a late or repeated delivery must not
        # bring the data back.
        return stripped
    with transaction.atomic():
        device = None
        if event.visitor_id:
            Device.objects.bulk_create(
                [Device(visitor_id=event.visitor_id, platform=event.platform[:16])],
                ignore_conflicts=True,
            )
            device = Device.objects.get(visitor_id=event.visitor_id)
        return event_snapshot_store(event=event, device=device)
