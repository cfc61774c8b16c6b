"""The allowlist: which entry, if any, covers a signup, and the audited edits.

An entry lifts the volume and device-limit rules (risk.rules.Rule.volume) and the signup
throttles, nothing else. Entries are read once per ALLOWLIST_CACHE_S per process (a signup must
not pay a query for a table that changes a few times a year); an edit in this process applies at
once, elsewhere within that time.
"""

from __future__ import annotations

import ipaddress
import re
import time

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from risk.email_domains import email_domain
from risk.fingerprint.events import Event
from risk.models import AllowlistChange, AllowlistEntry, AllowlistKind

ALLOWLIST_CACHE_S = 30
_cache: tuple[float, list[AllowlistEntry]] | None = None


def entry_value_normalise(kind: str, value: str) -> str:
    """The stored form of an entry's value; ValueError says what is wrong with it."""
    value = (value or "").strip()
    if not value:
        raise ValueError("Give a value.")
    if kind == AllowlistKind.NETWORK:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            example = "203.0.113.0/24"
            raise ValueError(f"{value!r} is not an IP address or range like {example}") from None
    if kind == AllowlistKind.ASN:
        digits = value.upper().removeprefix("AS")
        if not digits.isdigit():
            raise ValueError(f"{value!r} is not an AS number like AS64500")
        return str(int(digits))
    if kind == AllowlistKind.EMAIL_DOMAIN:
        domain = email_domain(value if "@" in value else f"@{value}")
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
            raise ValueError(f"{value!r} is not an email domain like example.com")
        return domain
    if kind == AllowlistKind.DEVICE:
        if len(value) > 64 or not re.fullmatch(r"[\w.-]+", value):
            raise ValueError(f"{value!r} is not a visitor id")
        return value
    raise ValueError(f"unknown kind {kind!r}")


def _active_entries() -> list[AllowlistEntry]:
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > ALLOWLIST_CACHE_S:
        live = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        _cache = (now, list(AllowlistEntry.objects.filter(live).order_by("pk")))
    wall = timezone.now()
    return [e for e in _cache[1] if e.expires_at is None or e.expires_at > wall]


def _forget(**kwargs) -> None:
    global _cache
    _cache = None


post_save.connect(_forget, sender=AllowlistEntry, dispatch_uid="risk.allowlist.forget_saved")
post_delete.connect(_forget, sender=AllowlistEntry, dispatch_uid="risk.allowlist.forget_deleted")


def _covers(entry: AllowlistEntry, *, ip: str, event: Event | None, domain: str) -> bool:
    if entry.kind == AllowlistKind.NETWORK:
        try:
            return ip != "" and ipaddress.ip_address(ip) in ipaddress.ip_network(entry.value)
        except ValueError:
            return False
    if entry.kind == AllowlistKind.ASN:
        return event is not None and event.asn.upper().removeprefix("AS") == entry.value
    if entry.kind == AllowlistKind.EMAIL_DOMAIN:
        return domain == entry.value or domain.endswith("." + entry.value)
    return event is not None and event.visitor_id == entry.value


def entry_label(entry: AllowlistEntry) -> str:
    """How an attempt records the entry that covered it (kept after the entry is removed)."""
    return f"#{entry.pk} {entry.get_kind_display()} {entry.value}: {entry.note}"[:255]


def allowlist_match(*, client_ip: str, event: Event | None, email: str) -> str:
    """The label of the first live entry covering the signup, "" when none does."""
    domain = email_domain(email)
    for entry in _active_entries():
        if _covers(entry, ip=client_ip or "", event=event, domain=domain):
            return entry_label(entry)
    return ""


def network_allowlisted(client_ip: str) -> bool:
    """A live IP-range entry covers this client (the network throttle runs before the event
    is known, so only ranges can lift it)."""
    return any(
        e.kind == AllowlistKind.NETWORK and _covers(e, ip=client_ip or "", event=None, domain="")
        for e in _active_entries()
    )


def allowlist_entry_save(*, entry: AllowlistEntry, actor, adding: bool) -> AllowlistEntry:
    """Save an entry (its value normalised) and its audit row together."""
    entry.value = entry_value_normalise(entry.kind, entry.value)
    with transaction.atomic():
        if adding:
            entry.created_by = actor
        entry.save()
        _change(entry, actor=actor, action="added" if adding else "changed")
    return entry


def allowlist_entry_delete(*, entry: AllowlistEntry, actor) -> None:
    with transaction.atomic():
        _change(entry, actor=actor, action="removed")
        entry.delete()


def _change(entry: AllowlistEntry, *, actor, action: str) -> None:
    AllowlistChange.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        entry_id=entry.pk,
        kind=entry.kind,
        value=entry.value,
        note=entry.note,
        expires_at=entry.expires_at,
    )
