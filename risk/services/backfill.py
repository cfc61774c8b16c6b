"""Operator jobs over history: fetch missing event snapshots, pull event ranges, rescore.

Every job here is
* idempotent: snapshots are upserted by event_id, links and counters only move from "unset"
  to "set" through conditional UPDATEs (so a rerun, or a second copy running at the same time,
  never counts an account twice);
* resumable: work is walked in keyset order (primary key, or the search API's pagination_key)
  and the cursor is stored in a `BackfillCheckpoint` in the same transaction as the batch it
  follows, so a restart after Ctrl-C or a crash continues where the last commit left off;
* polite: every Fingerprint request first takes a permit from one process-wide rate limiter
  (`--rps`), so live signups keep their share of the API key's quota.

Network I/O never happens inside a transaction. The commands in risk/management/commands only
parse options, draw the progress bar and call the functions below.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from risk.clients import fingerprint_client
from risk.fingerprint.errors import FingerprintError, NotFoundError, RequestError
from risk.fingerprint.events import Event
from risk.models import (
    Decision,
    Device,
    DrnSnapshot,
    DrnStatus,
    FingerprintEvent,
    SignupAttempt,
)
from risk.services.drn import drn_lookup
from risk.services.jobs import (
    BackfillError,
    Progress,
    RateLimiter,
    Tally,
    checkpoint_clear,
    checkpoint_load,
    checkpoint_save,
    permit,
)
from risk.services.signup import event_snapshot_fields
from risk.services.verification import UNAVAILABLE, attempts_verify_due, unverified_count

logger = logging.getLogger(__name__)

# Every column a refetch may refresh (fetched_at keeps the first fetch time).
SNAPSHOT_UPDATE_FIELDS = list(
    event_snapshot_fields(Event(event_id="", api_version="v4", raw={}), device=None)
)


# --- storing events -----------------------------------------------------------------------


def _devices_ensure(events: Iterable[Event], tally: Tally) -> dict[str, int]:
    """visitor_id -> Device pk, creating the devices we have never seen."""
    platforms = {e.visitor_id: e.platform[:16] for e in events if e.visitor_id}
    if not platforms:
        return {}
    known = dict(Device.objects.filter(visitor_id__in=platforms).values_list("visitor_id", "pk"))
    missing = [Device(visitor_id=v, platform=p) for v, p in platforms.items() if v not in known]
    if missing:
        # ON CONFLICT DO NOTHING: a live signup may create the same device meanwhile.
        Device.objects.bulk_create(missing, ignore_conflicts=True, batch_size=500)
        created = dict(
            Device.objects.filter(visitor_id__in=[d.visitor_id for d in missing]).values_list(
                "visitor_id", "pk"
            )
        )
        tally.add("devices_created", len(created))
        known.update(created)
    return known


def events_store(*, events: list[Event], tally: Tally) -> dict[str, int]:
    """Upsert snapshots by event_id, link devices, attempts and accounts. Returns event_id -> pk.

    Runs in the caller's transaction; every statement is safe to repeat.
    """
    if not events:
        return {}
    unique = list({e.event_id: e for e in events}.values())
    devices = _devices_ensure(unique, tally)
    rows = []
    for event in unique:
        row = FingerprintEvent(event_id=event.event_id, **event_snapshot_fields(event, device=None))
        row.device_id = devices.get(event.visitor_id)
        rows.append(row)
    FingerprintEvent.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["event_id"],
        update_fields=SNAPSHOT_UPDATE_FIELDS,
        batch_size=500,
    )
    tally.add("events_stored", len(rows))
    ids = [e.event_id for e in unique]
    return _snapshots_link(ids, tally=tally)


def _snapshots_link(event_ids: Iterable[str], *, tally: Tally) -> dict[str, int]:
    """Link stored snapshots of these events to their waiting attempts and accounts."""
    links = {
        event_id: (pk, device, visitor)
        for event_id, pk, device, visitor in FingerprintEvent.objects.filter(
            event_id__in=list(event_ids)
        ).values_list("event_id", "pk", "device_id", "visitor_id")
    }
    if links:
        _attempts_link(links=links, tally=tally)
        _accounts_link(devices={e: link[1] for e, link in links.items()}, tally=tally)
    return {event_id: link[0] for event_id, link in links.items()}


def _attempts_link(*, links: dict[str, tuple[int, int | None, str]], tally: Tally) -> None:
    waiting = SignupAttempt.objects.filter(
        event_id__in=list(links), fingerprint_event__isnull=True
    ).values_list("pk", "event_id", "device_id", "account_id")
    attempts_per_device: Counter = Counter()
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
            _event_claim(pk=pk, event_id=event_id, tally=tally)
    for device, n in attempts_per_device.items():
        Device.objects.filter(pk=device).update(attempt_count=F("attempt_count") + n)


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


def _accounts_link(*, devices: dict[str, int | None], tally: Tally) -> None:
    """Give accounts that signed up with these events their device (once: NULL -> device)."""
    user_model = get_user_model()
    waiting = user_model.objects.filter(
        signup_event_id__in=[e for e, d in devices.items() if d is not None],
        device__isnull=True,
    ).values_list("pk", "signup_event_id")
    accounts_per_device: Counter = Counter()
    for pk, event_id in waiting:
        device = devices[event_id]
        if user_model.objects.filter(pk=pk, device__isnull=True).update(device_id=device):
            accounts_per_device[device] += 1
    for device, n in accounts_per_device.items():
        Device.objects.filter(pk=device).update(account_count=F("account_count") + n)
        tally.add("accounts_linked", n)


# --- backfill_events: missing snapshots by event_id ---------------------------------------

MISSING_CHECKPOINT = "backfill_events:missing"


def _missing_attempts(after: int):
    # Unverified attempts are not linked here: verification decides them with the rules.
    return (
        SignupAttempt.objects.filter(fingerprint_event__isnull=True, pk__gt=after)
        .exclude(event_id="")
        .exclude(decision=Decision.UNVERIFIED)
        .order_by("pk")
    )


def _missing_accounts(after: int):
    user_model = get_user_model()
    return (
        user_model.objects.filter(pk__gt=after)
        .exclude(signup_event_id="")
        .exclude(signup_attempt__decision=Decision.UNVERIFIED)
        .filter(~Exists(FingerprintEvent.objects.filter(event_id=OuterRef("signup_event_id"))))
        .order_by("pk")
    )


def missing_events_count() -> dict[str, int]:
    """How many attempts and accounts lack their event snapshot (for --dry-run and the bar)."""
    return {"attempts": _missing_attempts(0).count(), "accounts": _missing_accounts(0).count()}


@dataclass(frozen=True)
class FetchOutcome:
    event_id: str
    event: Event | None
    outcome: str  # fetched | not_found | unavailable
    error: str = ""


def _fetch_one(event_id: str, limiter: RateLimiter) -> FetchOutcome:
    permit(limiter)
    try:
        return FetchOutcome(event_id, fingerprint_client().get_event(event_id), "fetched")
    except (NotFoundError, RequestError) as exc:
        return FetchOutcome(event_id, None, "not_found", str(exc))
    except FingerprintError as exc:
        return FetchOutcome(event_id, None, "unavailable", str(exc))


def events_fetch_by_id(
    *, event_ids: list[str], limiter: RateLimiter, workers: int = 1
) -> list[FetchOutcome]:
    """Fetch events (threads share the limiter; no database access in the threads)."""
    if workers <= 1 or len(event_ids) <= 1:
        return [_fetch_one(event_id, limiter) for event_id in event_ids]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill-fetch") as pool:
        return list(pool.map(lambda event_id: _fetch_one(event_id, limiter), event_ids))


def events_backfill_missing(
    *,
    limiter: RateLimiter,
    workers: int = 1,
    batch_size: int = 100,
    restart: bool = False,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> Tally:
    """Fetch the snapshot of every attempt and account that has an event_id but no snapshot.

    Walks attempts, then accounts, by primary key; the checkpoint holds the phase and the last
    primary key whose batch committed. Ids Fingerprint does not know are counted `not_found`;
    ids it could not serve now are counted `unavailable` and picked up by the next run (the
    checkpoint is cleared when a pass completes, so a rerun starts from the top).
    `after_batch(state)` runs after each commit (tests use it to simulate a crash).
    """
    state = None if restart else checkpoint_load(name=MISSING_CHECKPOINT)
    state = state or {"phase": "attempts", "after": 0, "counts": {}}
    tally = Tally(Counter(state.get("counts", {})))
    # Signups accepted while Fingerprint was down: decided by the live rules, not linked.
    while outcomes := attempts_verify_due(limit=batch_size):
        for outcome, n in outcomes.items():
            tally.add(f"verified_{outcome}", n)
        if UNAVAILABLE in outcomes or sum(outcomes.values()) < batch_size:
            break
    phases = ("attempts", "accounts")
    for phase in phases[phases.index(state["phase"]) :]:
        after = state["after"] if state["phase"] == phase else 0
        while True:
            if phase == "attempts":
                rows = list(_missing_attempts(after).values_list("pk", "event_id")[:batch_size])
            else:
                rows = list(
                    _missing_accounts(after).values_list("pk", "signup_event_id")[:batch_size]
                )
            if not rows:
                break
            event_ids = list(dict.fromkeys(event_id for _, event_id in rows))
            stored = set(
                FingerprintEvent.objects.filter(event_id__in=event_ids).values_list(
                    "event_id", flat=True
                )
            )
            outcomes = events_fetch_by_id(
                event_ids=[e for e in event_ids if e not in stored],
                limiter=limiter,
                workers=workers,
            )
            after = rows[-1][0]
            with transaction.atomic():
                if stored:
                    tally.add("already_stored", len(stored))
                    _snapshots_link(stored, tally=tally)
                for outcome in outcomes:
                    tally.add(outcome.outcome)
                    if outcome.outcome == "unavailable":
                        logger.warning("event %s unavailable: %s", outcome.event_id, outcome.error)
                events_store(events=[o.event for o in outcomes if o.event], tally=tally)
                state = {"phase": phase, "after": after, "counts": tally.as_dict()}
                checkpoint_save(name=MISSING_CHECKPOINT, state=state)
            if progress:
                progress(len(rows))
            if after_batch:
                after_batch(state)
    checkpoint_clear(name=MISSING_CHECKPOINT)
    return tally


def events_missing_preview() -> Tally:
    """--dry-run: what a run would do, without network calls or writes."""
    tally = Tally()
    counts = missing_events_count()
    tally.add("attempts_missing_snapshot", counts["attempts"])
    tally.add("accounts_missing_snapshot", counts["accounts"])
    ids = set(_missing_attempts(0).values_list("event_id", flat=True)) | set(
        _missing_accounts(0).values_list("signup_event_id", flat=True)
    )
    stored = FingerprintEvent.objects.filter(event_id__in=ids).count() if ids else 0
    tally.add("would_link_stored_events", stored)
    tally.add("would_fetch_events", len(ids) - stored)
    tally.add("would_verify_signups", unverified_count())
    return tally


# --- backfill_events: a time range from the search API ------------------------------------


def search_checkpoint_name(*, since: datetime, until: datetime | None, visitor: str) -> str:
    return "backfill_events:search:{}:{}:{}".format(
        int(since.timestamp() * 1000),
        int(until.timestamp() * 1000) if until else "now",
        visitor or "*",
    )


def _page_fetch(*, limiter: RateLimiter, attempts: int = 5, **params):
    """One search page; Fingerprint being briefly down or rate limiting is retried with backoff."""
    for attempt in range(attempts):
        permit(limiter)
        try:
            return fingerprint_client().search_events(limit=100, **params)
        except (RequestError, NotFoundError) as exc:
            raise BackfillError("search_refused", f"Fingerprint refused the search: {exc}") from exc
        except FingerprintError as exc:
            if attempt == attempts - 1:
                raise BackfillError(
                    "fingerprint_unavailable", f"search failed {attempts} times: {exc}"
                ) from exc
            time.sleep(min(10.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def _page_store(*, page, state: dict, name: str, dry_run: bool, tally: Tally) -> None:
    """Store one search page and move the checkpoint past it (in one transaction)."""
    if dry_run:
        ids = [e.event_id for e in page.events]
        stored = FingerprintEvent.objects.filter(event_id__in=ids).count()
        tally.add("would_store_new", len(ids) - stored)
        tally.add("would_refresh_stored", stored)
        return
    with transaction.atomic():
        events_store(events=page.events, tally=tally)
        state.update(
            pagination_key=page.pagination_key, pages=state["pages"] + 1, counts=tally.as_dict()
        )
        checkpoint_save(name=name, state=state)


def events_backfill_search(
    *,
    since: datetime,
    until: datetime | None,
    visitor: str = "",
    limiter: RateLimiter,
    restart: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> Tally:
    """Pull every event of [since, until] from the search API and store it.

    The window end is fixed at the first run (stored in the checkpoint with the last
    pagination_key), so a resumed run pages through exactly the same result set.
    """
    name = search_checkpoint_name(since=since, until=until, visitor=visitor)
    state = None if (restart or dry_run) else checkpoint_load(name=name)
    if state is None:
        end = until or timezone.now()
        state = {
            "start_ms": int(since.timestamp() * 1000),
            "end_ms": int(end.timestamp() * 1000),
            "pagination_key": None,
            "pages": 0,
            "counts": {},
        }
    if state["start_ms"] > state["end_ms"]:
        raise BackfillError("invalid_range", "--since is after --until")
    tally = Tally(Counter(state.get("counts", {})))

    def fetch(key: str | None):
        return _page_fetch(
            limiter=limiter,
            start=state["start_ms"],
            end=state["end_ms"],
            visitor_id=visitor or None,
            pagination_key=key,
        )

    # One page is fetched ahead while the previous one is written (the HTTP wait and the
    # database wait overlap); the checkpoint only moves once a page is committed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-search") as ahead:
        pending = ahead.submit(fetch, state["pagination_key"])
        while True:
            page = pending.result()
            if page.pagination_key:
                pending = ahead.submit(fetch, page.pagination_key)
            _page_store(page=page, state=state, name=name, dry_run=dry_run, tally=tally)
            if progress:
                progress(len(page.events))
            if after_batch:
                after_batch(state)
            if not page.pagination_key:
                break
    if not dry_run:
        checkpoint_clear(name=name)
    return tally


# --- backfill_drn: Device Reputation Network lookups owed to Android devices -------------

DRN_CHECKPOINT = "backfill_drn"


def drn_due_devices(*, max_age: timedelta, after: int = 0):
    """Android devices owing a lookup: queued (drn_lookup_pending), never answered, or whose
    latest answer is older than `max_age`; in id order from `after` (the checkpoint)."""
    fresh = DrnSnapshot.objects.filter(
        device=OuterRef("pk"),
        status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND),
        fetched_at__gte=timezone.now() - max_age,
    )
    android = Q(platform="android") | Q(
        platform="", events__platform="android"
    )  # devices stored before their platform was recorded
    return (
        Device.objects.filter(android, id__gt=after)
        .filter(Q(drn_lookup_pending=True) | ~Exists(fresh))
        .distinct()
        .order_by("id")
    )


def drn_backfill(
    *,
    max_age: timedelta,
    limiter: RateLimiter,
    restart: bool = False,
    batch_size: int = 100,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> Tally:
    """Look up every due device (risk.services.drn.drn_lookup, forced: the query already
    decided the cached answer is too old). The snapshot becomes the evidence of the device's
    latest attempt that has no answered lookup yet. A failed lookup keeps the device queued
    (drn_lookup_pending) and is counted `error`; the next run retries it."""

    state = None if restart else checkpoint_load(name=DRN_CHECKPOINT)
    state = state or {"after": 0, "counts": {}}
    tally = Tally(Counter(state["counts"]))
    after = state["after"]
    while devices := list(drn_due_devices(max_age=max_age, after=after)[:batch_size]):
        for device in devices:
            attempt = (
                SignupAttempt.objects.filter(device=device)
                .exclude(drn_snapshot__status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND))
                .order_by("-created_at", "-pk")
                .first()
            )
            permit(limiter)
            snapshot = drn_lookup(device=device, attempt=attempt, force=True)
            tally.add(snapshot.status if snapshot is not None else "not_android")
            after = device.pk
            state = {"after": after, "counts": tally.as_dict()}
            checkpoint_save(name=DRN_CHECKPOINT, state=state)
            if progress:
                progress(1)
            if after_batch:
                after_batch(state)
    checkpoint_clear(name=DRN_CHECKPOINT)
    return tally
