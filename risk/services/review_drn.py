"""A reviewer's "look up again" of a device in DRN (docs/drn.md): a forced lookup, limited per
reviewer so a console cannot spend the key's DRN budget (which signups need too)."""

from __future__ import annotations

import time

from django.core.cache import cache

from risk.conf import risk_settings
from risk.models import DrnSnapshot, SignupAttempt
from risk.services.drn import device_is_android, drn_lookup
from risk.services.review import RECORD_PERMISSION, ReviewError

WINDOW_S = 3600


def drn_lookup_again(*, actor, attempt: SignupAttempt) -> DrnSnapshot:
    """Look the attempt's device up again (cache bypassed). The answer becomes the attempt's
    evidence only if it has no answered one (what was known at signup time stays); the
    evidence page shows the latest lookup beside it. At most REVIEW_DRN_LOOKUPS_PER_HOUR per
    reviewer (counted in the shared cache). Must not run inside a transaction (it calls the
    network). Raises ReviewError."""
    if actor is None or not actor.has_perm(RECORD_PERMISSION):
        raise ReviewError("forbidden", "You may not look devices up.")
    device = attempt.device
    if device is None or not device_is_android(device=device):
        raise ReviewError("not_android", "DRN covers Android devices only.")
    limit = risk_settings().drn_lookups_per_hour
    key = f"risk:drn-again:{actor.pk}:{int(time.time() // WINDOW_S)}"
    cache.add(key, 0, WINDOW_S)
    if cache.incr(key) > limit:
        raise ReviewError(
            "rate_limited", f"At most {limit} DRN lookups an hour per reviewer; try later."
        )
    return drn_lookup(device=device, attempt=attempt, force=True)
