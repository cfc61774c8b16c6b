"""Filters for the DRN panel (templates/risk/drn_panel.html)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from risk.fingerprint.drn import flatten_signals

register = template.Library()
EN_DASH = "\u2013"


@register.filter
def drn_signals(snapshot, bound: str) -> list[tuple[str, object]]:
    """The signals behind a snapshot's "minimum" or "maximum" suspect score, flattened
    (`vpn.publicVPN`) and heaviest first, read from the stored raw answer."""
    raw = getattr(snapshot, "raw", None)
    data = raw.get("data") if isinstance(raw, dict) else None
    score = data.get("suspectScore") if isinstance(data, dict) else None
    part = score.get(bound) if isinstance(score, dict) else None
    signals = flatten_signals(part.get("signals") if isinstance(part, dict) else None)

    def weight(item: tuple[str, object]) -> float:
        value = item[1]
        return -value if isinstance(value, int | float) and not isinstance(value, bool) else 0

    return sorted(signals.items(), key=lambda item: (weight(item), item[0]))


@register.filter
def drn_share(value) -> str:
    """0.6 -> "60%"; nothing -> an en dash."""
    if not isinstance(value, int | float) or value <= 0:
        return EN_DASH
    return f"{value * 100:.0f}%"


@register.filter
def duration_words(value) -> str:
    """A timedelta in words ("3 days, 2 hours"), as Django's timesince says it."""
    if not isinstance(value, timedelta):
        return ""
    now = timezone.now()
    return timesince(now - value, now)
