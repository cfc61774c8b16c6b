"""Privacy: find everything stored about one person, export it, erase it; purge old evidence.

Erasure is table-driven: `PERSONAL_TABLES` lists every table that can hold a person's data,
how to find the person's rows in it and what erasing them means. A table added later (a new
snapshot version, review claims...) is one more entry. What is kept, and why, is in
docs/privacy.md: decisions and reason codes (so statistics still add up), event ids (so an
event can never be replayed), and the visitor id of a blocked device (the block itself).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Lower
from django.utils import timezone

from risk.conf import risk_settings
from risk.fingerprint.errors import AuthError, FingerprintError, NotFoundError
from risk.models import (
    Device,
    DeviceStatus,
    DrnSnapshot,
    Erasure,
    FingerprintEvent,
    FingerprintEventVersion,
    ReviewStatus,
    SignupAttempt,
)
from risk.services.jobs import BackfillError, Batch, Progress, Tally, job_run

logger = logging.getLogger(__name__)

ERASED = "[erased]"  # what replaces an identifier quoted in free text


# --- who the person is --------------------------------------------------------------------


@dataclass
class Subject:
    """The rows that are the person's, and the strings that identify them."""

    account_ids: set[int] = field(default_factory=set)
    attempt_ids: set[int] = field(default_factory=set)
    device_ids: set[int] = field(default_factory=set)
    visitor_ids: set[str] = field(default_factory=set)
    usernames: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)

    @property
    def identifiers(self) -> set[str]:
        """Strings that must not survive in free text (notes, admin log)."""
        return {s for s in self.usernames | self.emails | self.ips | self.visitor_ids if s}

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """The identifiers as whole words (so the username "al" never matches "approval");
        longest first, so an email goes before the username inside it."""
        if not self.identifiers:
            return None
        words = sorted(self.identifiers, key=len, reverse=True)
        return re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
        )

    def mentioned_in(self, text: str) -> bool:
        return bool(text and self.pattern and self.pattern.search(text))

    def is_empty(self) -> bool:
        return not (self.account_ids or self.attempt_ids or self.device_ids or self.visitor_ids)


def person_find(*, username: str = "", email: str = "", visitor_id: str = "") -> Subject:
    """Everything that belongs to the person named by any of the given identifiers.

    Accounts match a username or an email case-insensitively; attempts match them exactly
    (as typed, and the email lower-cased), or by account. The accounts and attempts found
    bring in their own usernames and emails, until nothing new turns up. A visitor id also
    names a device and every attempt and account of it. The devices of the person's attempts
    and accounts are the person's too: their events and DRN answers go with them.
    """
    username, email, visitor_id = username.strip(), email.strip(), visitor_id.strip()
    if not (username or email or visitor_id):
        raise BackfillError("no_identifier", "give --username, --email or --visitor-id")
    s = Subject()
    s.usernames |= {username}
    s.emails |= {email, email.lower()}
    for _ in range(MAX_EXPANSIONS):
        before = (len(s.account_ids), len(s.attempt_ids))
        s.usernames.discard("")
        s.emails.discard("")
        _accounts_add(s, visitor_id)
        _attempts_add(s, visitor_id)
        if (len(s.account_ids), len(s.attempt_ids)) == before:
            break
    devices = Q(pk__in=s.device_ids) | (Q(visitor_id=visitor_id) if visitor_id else Q(pk__in=[]))
    for pk, visitor in Device.objects.filter(devices).values_list("pk", "visitor_id"):
        s.device_ids.add(pk)
        s.visitor_ids.add(visitor)
    s.visitor_ids.add(visitor_id)
    s.visitor_ids = {v for v in s.visitor_ids if v and not v.startswith("erased-")}
    events = FingerprintEvent.objects.filter(_events_q(s), ip__isnull=False)
    s.ips |= set(events.values_list("ip", flat=True))
    for values in (s.usernames, s.emails, s.ips):
        values.discard("")
    return s


MAX_EXPANSIONS = 5  # username -> account -> its email -> attempts -> their usernames ...


def _accounts_add(s: Subject, visitor_id: str) -> None:
    accounts = Q(pk__in=s.account_ids) | Q(username_lower__in={u.lower() for u in s.usernames})
    for address in s.emails:
        accounts |= Q(email__iexact=address)
    if visitor_id:
        accounts |= Q(signup_attempt__device__visitor_id=visitor_id)
    users = get_user_model().objects.annotate(username_lower=Lower("username")).filter(accounts)
    rows = users.values_list("pk", "username", "email", "signup_attempt__device_id")
    for pk, name, address, device_id in rows:
        s.account_ids.add(pk)
        s.usernames.add(name)
        s.emails.add(address)
        if device_id:
            s.device_ids.add(device_id)


def _attempts_add(s: Subject, visitor_id: str) -> None:
    attempts = Q(account_id__in=s.account_ids) | Q(username__in=s.usernames)
    attempts |= Q(email__in=s.emails - {""})
    if visitor_id:
        attempts |= Q(visitor_id=visitor_id)
    rows = SignupAttempt.objects.filter(attempts).values_list(
        "pk", "username", "email", "client_ip", "device_id", "visitor_id", "account_id"
    )
    for pk, name, address, ip, device_id, visitor, account_id in rows:
        s.attempt_ids.add(pk)
        s.usernames.add(name)
        s.emails.add(address)
        s.ips.add(ip or "")
        s.visitor_ids.add(visitor)
        if device_id:
            s.device_ids.add(device_id)
        if account_id:
            s.account_ids.add(account_id)


def _events_q(s: Subject) -> Q:
    # Ids, not a join through the attempts: each branch can then use its own index.
    backing = SignupAttempt.objects.filter(
        pk__in=s.attempt_ids, fingerprint_event_id__isnull=False
    ).values_list("fingerprint_event_id", flat=True)
    return Q(visitor_id__in=s.visitor_ids) | Q(device_id__in=s.device_ids) | Q(pk__in=list(backing))


def _mentions_q(field_name: str, s: Subject) -> Q:
    """A database prefilter (substring); `Subject.mentioned_in` decides on whole words."""
    q = Q(pk__in=[])
    for text in s.identifiers:
        q |= Q(**{f"{field_name}__icontains": text})
    return q


# --- what each table holds and what erasure does to it -------------------------------------

Eraser = Callable[[QuerySet, Subject], int]


def _update(**values: Any) -> Eraser:
    return lambda rows, s: rows.update(**values)


def _delete(rows: QuerySet, s: Subject) -> int:
    return rows.delete()[0]


def _scrub(*field_names: str) -> Eraser:
    """Replace the person's identifiers quoted in free-text fields with "[erased]"."""

    def erase(rows: QuerySet, s: Subject) -> int:
        pattern = s.pattern
        if pattern is None:
            return 0
        changed = 0
        for row in rows:
            updates = {}
            for name in field_names:
                old = getattr(row, name)
                new = pattern.sub(ERASED, old)
                if new != old:
                    updates[name] = new
            if updates:
                type(row).objects.filter(pk=row.pk).update(**updates)
                changed += 1
        return changed

    return erase


def _anonymise_accounts(rows: QuerySet, s: Subject) -> int:
    # The row stays (attempts, device counts and reviewers' audit rows point at it); nothing
    # in it can name the person or let anyone log in as it.
    return rows.update(
        username=Concat(Value("erased-"), Cast("pk", CharField())),
        email="",
        first_name="",
        last_name="",
        password=make_password(None),
        is_active=False,
        last_login=None,
    )


def _forget_devices(rows: QuerySet, s: Subject) -> int:
    # A blocked device keeps its visitor id: that identifier is the block.
    return rows.exclude(status=DeviceStatus.BLOCKED).update(
        visitor_id=Concat(Value("erased-"), Cast("pk", CharField()))
    )


def _decision_is_theirs(row, s: Subject) -> bool:
    return (
        row.attempt_id in s.attempt_ids or row.device_id in s.device_ids or s.mentioned_in(row.note)
    )


def _log_entry_is_theirs(row, s: Subject) -> bool:
    user_type = _user_content_type()
    if row.content_type_id == user_type.pk and row.object_id in {str(pk) for pk in s.account_ids}:
        return True
    return s.mentioned_in(row.object_repr) or s.mentioned_in(row.change_message)


def _user_content_type():
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(get_user_model())


def _typed_login_q(s: Subject) -> Q:
    """Staff login records (django-axes) hold the username as typed: any case, maybe an email."""
    q = Q(pk__in=[])
    for name in s.usernames | s.emails:
        q |= Q(username__iexact=name)
    return q


def _admin_log_q(s: Subject) -> Q:
    about_account = Q(
        content_type=_user_content_type(), object_id__in=[str(pk) for pk in s.account_ids]
    )
    return about_account | _mentions_q("object_repr", s) | _mentions_q("change_message", s)


@dataclass(frozen=True)
class PersonalTable:
    """One table that can hold personal data."""

    model: str  # "app_label.ModelName"
    rows: Callable[[Subject], Q]  # the person's rows
    erase: Eraser  # what erasure does to them (returns rows changed)
    exclude: tuple[str, ...] = ()  # fields never exported (secrets, not data about the person)
    # When `rows` is a substring prefilter: the exact test, on each row it found.
    keep: Callable[[Any, Subject], bool] | None = None

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def queryset(self, s: Subject) -> QuerySet:
        """The person's rows (after `keep`), in primary-key order."""
        rows = self.model_class.objects.filter(self.rows(s)).distinct().order_by("pk")
        if self.keep is not None:
            ids = [row.pk for row in rows if self.keep(row, s)]
            rows = self.model_class.objects.filter(pk__in=ids).order_by("pk")
        return rows


# Order matters: rows are found before anything is changed, and tables whose rows are found
# through identifiers (notes, admin log) are matched on the values collected beforehand.
PERSONAL_TABLES: list[PersonalTable] = [
    PersonalTable(
        "accounts.User",
        lambda s: Q(pk__in=s.account_ids),
        _anonymise_accounts,
        exclude=("password",),
    ),
    PersonalTable(
        "risk.SignupAttempt",
        lambda s: Q(pk__in=s.attempt_ids),
        _update(
            username="",
            email="",
            email_domain_rev="",
            client_ip=None,
            client_network="",
            visitor_id="",
        ),
    ),
    PersonalTable(
        "risk.FingerprintEventVersion",  # later copies of the person's events
        lambda s: Q(event__in=FingerprintEvent.objects.filter(_events_q(s))),
        _delete,
    ),
    PersonalTable(
        "risk.FingerprintEvent",
        _events_q,
        # The event id stays: it is claimed, so the event can never back another signup.
        _update(raw={}, ip=None, url="", visitor_id="", country_code=""),
    ),
    PersonalTable(
        "risk.DrnSnapshot",
        lambda s: Q(device_id__in=s.device_ids) | Q(visitor_id__in=s.visitor_ids),
        _delete,
    ),
    PersonalTable(
        "risk.ReviewDecision",
        lambda s: (
            Q(attempt_id__in=s.attempt_ids) | Q(device_id__in=s.device_ids) | _mentions_q("note", s)
        ),
        _scrub("note"),
        keep=_decision_is_theirs,
    ),
    PersonalTable(
        "risk.Reassessment",
        lambda s: Q(attempt_id__in=s.attempt_ids),
        lambda rows, s: 0,  # decisions and reason codes only: nothing personal to erase
    ),
    PersonalTable("risk.Device", lambda s: Q(pk__in=s.device_ids), _forget_devices),
    PersonalTable(
        "admin.LogEntry",
        _admin_log_q,
        _scrub("object_repr", "change_message"),
        keep=_log_entry_is_theirs,
    ),
    # The staff login lockout's records of the person trying the admin login (username, IP,
    # user agent, form data). Deleted: an IP lockout they were part of ends early.
    PersonalTable("axes.AccessAttempt", _typed_login_q, _delete),
    PersonalTable("axes.AccessFailureLog", _typed_login_q, _delete),
    PersonalTable("axes.AccessLog", _typed_login_q, _delete),
]


def _tables() -> Iterable[PersonalTable]:
    """The tables of the installed apps (a deployment may leave out django.contrib.admin)."""
    for table in PERSONAL_TABLES:
        try:
            apps.get_app_config(table.model.split(".")[0])
        except LookupError:
            continue
        yield table


# --- access requests: export --------------------------------------------------------------


def person_export(*, subject: Subject) -> dict:
    """Everything stored about the person, table by table, as JSON-ready data."""
    tables = {}
    for table in _tables():
        names = [
            f.attname
            for f in table.model_class._meta.concrete_fields
            if f.name not in table.exclude
        ]
        rows = [dict(row) for row in table.queryset(subject).values(*names)]
        # Round-trip: dates, decimals, durations and IP objects become JSON values.
        tables[table.model] = json.loads(json.dumps(rows, cls=DjangoJSONEncoder))
    return {"generated_at": timezone.now().isoformat(), "tables": tables}


# --- erasure ------------------------------------------------------------------------------


def person_erase(
    *,
    subject: Subject,
    reason: str,
    matched_by: str,
    actor=None,
    operator: str = "",
    fingerprint_delete: Callable[[str], None] | None = None,
) -> Erasure:
    """Erase the person in one transaction and record an audit row; then ask Fingerprint to
    delete each of the person's visitors except blocked devices' (outside the transaction:
    Fingerprint being down never undoes or fails the erasure; the outcome is recorded on the
    audit row).

    Running it again finds nothing left to erase and only adds another audit row.
    """
    reason = reason.strip()
    if not reason:
        raise BackfillError("reason_required", "say why (the request, the ticket): --reason")
    blocked = set(
        Device.objects.filter(pk__in=subject.device_ids, status=DeviceStatus.BLOCKED).values_list(
            "visitor_id", flat=True
        )
    )
    to_forget = sorted(subject.visitor_ids - blocked)
    with transaction.atomic():
        found = [(t, list(t.queryset(subject).values_list("pk", flat=True))) for t in _tables()]
        summary = {}
        for table, ids in found:
            if ids:
                rows = table.model_class.objects.filter(pk__in=ids)
                summary[table.model] = {"ids": ids, "changed": table.erase(rows, subject)}
        # The visitor id itself is personal data: the audit row numbers the visitors instead.
        erasure = Erasure.objects.create(
            actor=actor if getattr(actor, "pk", None) else None,
            operator=operator[:150],
            matched_by=matched_by[:64],
            reason=reason,
            tables=summary,
            fingerprint=[{"visitor": n, "outcome": "pending"} for n in range(1, len(to_forget) + 1)]
            + [{"visitor": None, "outcome": "kept_blocked"} for _ in blocked],
        )
    if to_forget:
        if fingerprint_delete is None:
            from risk.clients import fingerprint_client

            fingerprint_delete = fingerprint_client().delete_visitor
        for entry, visitor_id in zip(erasure.fingerprint, to_forget, strict=False):
            entry["outcome"], entry["code"] = _delete_visitor(fingerprint_delete, visitor_id)
        erasure.save(update_fields=["fingerprint"])
    return erasure


def _delete_visitor(delete: Callable[[str], None], visitor_id: str) -> tuple[str, str]:
    try:
        delete(visitor_id)
    except NotFoundError as exc:
        return "not_found", exc.code
    except AuthError as exc:
        if exc.code == "feature_not_enabled":
            return "feature_not_enabled", exc.code
        logger.warning("Fingerprint refused a visitor deletion: %s", exc)
        return "failed", exc.code or "auth_error"
    except FingerprintError as exc:
        logger.warning("Fingerprint visitor deletion failed: %s", exc)
        return "failed", exc.code or "error"
    return "deleted", ""


# --- retention ----------------------------------------------------------------------------

PURGE_CHECKPOINT = "privacy:purge_snapshots"


def retention_days(days: int | None = None) -> int:
    """The window in days: `days` when given, else RISK_SNAPSHOT_RETENTION_DAYS (0: keep)."""
    if days is None:
        days = risk_settings().snapshot_retention_days
    if not isinstance(days, int) or days < 0:
        raise BackfillError("invalid_retention", "the retention must be a number of days >= 0")
    return days


def _held() -> Q:
    """Attempts whose evidence is still needed: held for a reviewer, or accepted while
    Fingerprint was down and waiting to be verified by the rules (the IP check needs the IP)."""
    return Q(review_status=ReviewStatus.PENDING) | Q(decision="unverified")


def _purge_phases(cutoff) -> list[tuple[str, QuerySet, dict]]:
    """(name, rows to strip, values) for each kind of old evidence; held attempts' evidence
    is left alone (a reviewer still needs it)."""
    held_event = SignupAttempt.objects.filter(_held(), fingerprint_event=OuterRef("pk"))
    held_drn = SignupAttempt.objects.filter(_held(), drn_snapshot=OuterRef("pk"))
    events = (
        FingerprintEvent.objects.filter(fetched_at__lt=cutoff)
        .filter(Q(ip__isnull=False) | ~Q(url="") | ~Q(raw={}))
        .exclude(Exists(held_event))
    )
    drn = (
        DrnSnapshot.objects.filter(fetched_at__lt=cutoff)
        .filter(~Q(raw={}) | ~Q(countries=[]))
        .exclude(Exists(held_drn))
    )
    attempts = SignupAttempt.objects.filter(created_at__lt=cutoff, client_ip__isnull=False).exclude(
        _held()
    )
    held_version = SignupAttempt.objects.filter(_held(), fingerprint_event=OuterRef("event"))
    versions = (
        FingerprintEventVersion.objects.filter(fetched_at__lt=cutoff)
        .exclude(raw={})
        .exclude(Exists(held_version))
    )
    return [
        ("events", events, {"raw": {}, "ip": None, "url": ""}),
        ("event_versions", versions, {"raw": {}}),
        ("drn_snapshots", drn, {"raw": {}, "countries": []}),
        ("attempts", attempts, {"client_ip": None, "client_network": ""}),
    ]


def snapshots_purge_due(*, days: int | None = None) -> dict[str, int]:
    """How many rows the purge would strip now, per kind (it writes nothing)."""
    days = retention_days(days)
    if days == 0:
        return {}
    cutoff = timezone.now() - timedelta(days=days)
    return {f"{name}_due": rows.count() for name, rows, _ in _purge_phases(cutoff)}


def snapshots_purge_expired(
    *,
    days: int | None = None,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> Tally:
    """Strip raw snapshots, DRN answers and IP addresses older than the retention window
    from evidence no reviewer is waiting on. A resumable job (risk.services.jobs.job_run): an
    interrupted run, run again, continues where it stopped with the same cutoff.
    days=0: keep forever.

    Every UPDATE re-checks its conditions, so an attempt that became held meanwhile (rescore)
    keeps its evidence. Kept: the extracted signal columns, decisions and reasons.
    """
    days = retention_days(days)
    if batch_size < 1:
        raise BackfillError("invalid_batch_size", "the batch size must be at least 1")
    tally = Tally()
    if days == 0:
        return tally
    cutoff = timezone.now() - timedelta(days=days)

    def next_batch(state: dict) -> Batch | None:
        tally.counts = Counter(state["counts"])
        phases = _purge_phases(datetime.fromisoformat(state["cutoff"]))
        number, after = state["phase"], state["after"]
        while number < len(phases):
            name, rows, values = phases[number]
            ids = list(
                rows.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
            )
            if ids:
                break
            number, after = number + 1, 0
        else:
            return None

        def write(state: dict) -> dict:
            tally.add(f"{name}_stripped", rows.filter(pk__in=ids).update(**values))
            return {**state, "phase": number, "after": ids[-1], "counts": tally.as_dict()}

        return Batch(size=len(ids), write=write)

    job_run(
        name=PURGE_CHECKPOINT,
        initial={"cutoff": cutoff.isoformat(), "phase": 0, "after": 0, "counts": {}},
        next_batch=next_batch,
        progress=progress,
    )
    return tally
