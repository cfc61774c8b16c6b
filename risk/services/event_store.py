"""Store events that arrive after the signup (webhook, backfills) and link them to the attempts
and accounts that were waiting for them.

Evidence is never rewritten: a snapshot already stored keeps its `raw` (a decision may have
used it); a later copy that differs is kept beside it as a FingerprintEventVersion. Every
statement is safe to repeat: links and counters only move from "unset" to "set" through
conditional UPDATEs, so a rerun, or a second copy running at the same time, counts nothing
twice.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F

from risk.fingerprint.events import Event
from risk.models import (
    Decision,
    Device,
    FingerprintEvent,
    FingerprintEventVersion,
    SignupAttempt,
)
from risk.services.devices import device_ensure
from risk.services.jobs import Tally, item_guard
from risk.services.snapshots import event_snapshot_fields
from risk.storable import storable_json

logger = logging.getLogger(__name__)


def snapshots_keep(
    *, events: list[Event], devices: dict[str, int], source: str, tally: Tally
) -> None:
    """Insert the snapshots of new events; for stored ones, keep a differing copy as a later
    version and fill a missing device link (the original `raw` is never touched)."""
    unique = list({e.event_id: e for e in events}.values())
    if not unique:
        return
    stored = {
        event_id: (pk, device_id, raw)
        for event_id, pk, device_id, raw in FingerprintEvent.objects.filter(
            event_id__in=[e.event_id for e in unique]
        ).values_list("event_id", "pk", "device_id", "raw")
    }
    new = []
    for event in unique:
        if event.event_id in stored:
            continue
        row = FingerprintEvent(event_id=event.event_id, **event_snapshot_fields(event, device=None))
        row.device_id = devices.get(event.visitor_id)
        new.append(row)
    # ON CONFLICT DO NOTHING: a signup storing the same event meanwhile keeps its snapshot.
    FingerprintEvent.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    tally.add("events_stored", len(new))
    _versions_add(
        events=[e for e in unique if e.event_id in stored],
        stored=stored,
        source=source,
        tally=tally,
    )
    unlinked: dict[int, list[str]] = defaultdict(list)
    for event in unique:
        device = devices.get(event.visitor_id)
        if device and event.event_id in stored and stored[event.event_id][1] is None:
            unlinked[device].append(event.event_id)
    for device, event_ids in unlinked.items():
        FingerprintEvent.objects.filter(event_id__in=event_ids, device__isnull=True).update(
            device_id=device
        )


def _versions_add(*, events: list[Event], stored: dict, source: str, tally: Tally) -> None:
    if not events:
        return
    pks = [stored[e.event_id][0] for e in events]
    latest: dict[int, dict] = {}
    for event_pk, raw in (
        FingerprintEventVersion.objects.filter(event_id__in=pks)
        .order_by("event_id", "fetched_at", "pk")
        .values_list("event_id", "raw")
    ):
        latest[event_pk] = raw  # ascending: the last one wins
    versions = []
    for event in events:
        pk, _, original = stored[event.event_id]
        raw, replaced = storable_json(event.raw)
        if raw in (original, latest.get(pk)):
            tally.add("events_unchanged")
            continue
        versions.append(
            FingerprintEventVersion(event_id=pk, source=source, raw=raw, text_replaced=replaced)
        )
    FingerprintEventVersion.objects.bulk_create(versions, batch_size=500)
    tally.add("event_versions_added", len(versions))


def events_not_stripped(events: list[Event]) -> list[Event]:
    """The events whose stored snapshot, if any, was not stripped. A stripped one (`raw` {}:
    erased, or past retention, docs/privacy.md) must not come back through a late webhook or
    a backfill, neither as a later version nor as a recreated device."""
    stripped = set(
        FingerprintEvent.objects.filter(
            event_id__in=[e.event_id for e in events], raw={}
        ).values_list("event_id", flat=True)
    )
    return [e for e in events if e.event_id not in stripped]


def events_store(*, events: list[Event], source: str, tally: Tally) -> dict[str, int]:
    """Store events (see `snapshots_keep`), creating their devices, then link the attempts and
    accounts waiting for them. Runs in the caller's transaction. Returns event_id -> pk."""
    kept = events_not_stripped(events)
    if len(kept) < len(events):
        tally.add("events_stripped_skipped", len(events) - len(kept))
    events = kept
    if not events:
        return {}
    devices, created = device_ensure(platforms={e.visitor_id: e.platform for e in events})
    tally.add("devices_created", created)
    snapshots_keep(events=events, devices=devices, source=source, tally=tally)
    return snapshots_link(event_ids={e.event_id for e in events}, tally=tally)


def events_store_each(*, events: list[Event], source: str, tally: Tally) -> None:
    """`events_store` for a job's batch: all at once, and should that fail, one by one, so that
    one event that cannot be stored is logged, counted `failed` and skipped."""
    try:
        with transaction.atomic():
            events_store(events=events, source=source, tally=tally)
        return
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.warning("a batch of %d events failed; storing them one by one", len(events))
    for event in events:
        with item_guard(tally, what="storing event", item=event.event_id):
            events_store(events=[event], source=source, tally=tally)


def snapshots_link(*, event_ids: Iterable[str], tally: Tally) -> dict[str, int]:
    """Link stored snapshots of these events to the attempts waiting for them."""
    links = {
        event_id: (pk, device, visitor)
        for event_id, pk, device, visitor in FingerprintEvent.objects.filter(
            event_id__in=list(event_ids)
        ).values_list("event_id", "pk", "device_id", "visitor_id")
    }
    if links:
        attempts_link_snapshot(links=links, tally=tally)
    return {event_id: link[0] for event_id, link in links.items()}


def attempts_link_snapshot(*, links: dict[str, tuple[int, int | None, str]], tally: Tally) -> None:
    """Attempts recorded without their event that are not waiting for verification (imported
    ones, and outage attempts recorded before verification existed): link the snapshot, the
    device and claim the event. `links` maps event_id -> (snapshot pk, device pk, visitor id).
    Unverified attempts never come here: risk.services.verification decides them by the rules.
    """
    waiting = (
        SignupAttempt.objects.filter(event_id__in=list(links), fingerprint_event__isnull=True)
        .exclude(decision=Decision.UNVERIFIED)
        .values_list("pk", "event_id", "device_id", "account_id")
    )
    attempts_per_device: Counter = Counter()
    accounts_per_device: Counter = Counter()
    for pk, event_id, device_id, account_id in waiting:
        snapshot, device, visitor = links[event_id]
        changes: dict = {"fingerprint_event_id": snapshot}
        if device_id is None and device is not None:
            changes.update(device_id=device, visitor_id=visitor)
        # Conditional: a concurrent run that linked it first wins, and we count nothing.
        linked = SignupAttempt.objects.filter(pk=pk, fingerprint_event__isnull=True).update(
            **changes
        )
        if not linked:
            continue
        tally.add("attempts_linked")
        if "device_id" in changes:
            attempts_per_device[device] += 1
            if account_id is not None:
                accounts_per_device[device] += 1
        if account_id is not None:
            _event_claim(pk=pk, event_id=event_id, tally=tally)
    for device, n in attempts_per_device.items():
        Device.objects.filter(pk=device).update(
            attempt_count=F("attempt_count") + n,
            account_count=F("account_count") + accounts_per_device[device],
        )
        tally.add("accounts_linked", accounts_per_device[device])


def _event_claim(*, pk: int, event_id: str, tally: Tally) -> None:
    """The event backed this attempt's account: claim it, so a later signup reusing the id is
    refused as `event_reused` (unless another attempt already claimed it)."""
    try:
        with transaction.atomic():  # savepoint: losing the unique race must not abort the batch
            claimed = SignupAttempt.objects.filter(pk=pk, claimed_event_id__isnull=True).update(
                claimed_event_id=event_id
            )
    except IntegrityError:
        claimed = 0
    tally.add("events_claimed", claimed)
