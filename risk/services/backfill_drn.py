"""`manage.py backfill_drn`: Device Reputation Network lookups owed to Android devices (queued
after a failed or skipped signup-time lookup, never looked up, or answered too long ago)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from risk import selectors
from risk.fingerprint.rate_limit import Limiter
from risk.services.drn import drn_lookup
from risk.services.jobs import Batch, Progress, Tally, job_run, permit

CHECKPOINT = "backfill_drn"


def drn_backfill(
    *,
    max_age: timedelta,
    limiter: Limiter,
    restart: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Look up every due device (`risk.selectors.devices_drn_due`), one per batch, with
    `risk.services.drn.drn_lookup` forced: the query already decided the cached answer is too
    old. The snapshot becomes the evidence of the device's latest attempt that has no
    answered lookup yet. A failed lookup keeps the device queued (drn_lookup_pending) and is
    counted `error`; the next run retries it. The lookup stores its own snapshot before the
    batch's transaction (it is a network call); the transaction moves the checkpoint."""
    tally = Tally()

    def next_batch(state: dict) -> Batch | None:
        tally.counts = Counter(state["counts"])
        device = selectors.devices_drn_due(max_age=max_age, after=state["after"]).first()
        if device is None:
            return None
        permit(limiter)
        attempt = selectors.attempt_awaiting_drn(device=device)
        snapshot = drn_lookup(device=device, attempt=attempt, force=True)

        def write(state: dict) -> dict:
            tally.add(snapshot.status if snapshot is not None else "not_android")
            return {"after": device.pk, "counts": tally.as_dict()}

        return Batch(size=1, write=write)

    job_run(
        name=CHECKPOINT,
        initial={"after": 0, "counts": {}},
        next_batch=next_batch,
        restart=restart,
        progress=progress,
    )
    return tally
