"""Store events that Fingerprint pushes to our webhook."""

from django.db import transaction

from risk.fingerprint.events import EventFormatError, normalise_event
from risk.fingerprint.parsing import NonStandardJSONError, strict_json_loads
from risk.models import FingerprintEvent
from risk.services.devices import device_ensure
from risk.services.event_store import events_not_stripped, snapshots_keep
from risk.services.jobs import Tally


def event_webhook_store(*, body: bytes) -> FingerprintEvent:
    """Store the event by event_id. A snapshot already stored keeps its `raw` (a decision may
    have used it); a differing copy is kept beside it as a later version. Attempts waiting
    for it (signups taken while the Server API was unreachable) are linked by
    `manage.py backfill_events`, which finds it here."""
    try:
        payload = strict_json_loads(body)
    except NonStandardJSONError as exc:
        raise EventFormatError(f"webhook body is not standard JSON: {exc}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventFormatError("webhook body is not JSON") from exc
    event = normalise_event(payload)
    if not event.event_id:
        raise EventFormatError("webhook event has no event id")
    if not events_not_stripped([event]):  # erased or past retention: keep it that way
        return FingerprintEvent.objects.get(event_id=event.event_id)
    with transaction.atomic():
        devices, _ = device_ensure(platforms={event.visitor_id: event.platform})
        snapshots_keep(events=[event], devices=devices, source="webhook", tally=Tally())
        return FingerprintEvent.objects.get(event_id=event.event_id)
