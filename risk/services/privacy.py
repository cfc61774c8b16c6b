"""Privacy: find what is stored about one person, list it, export it, erase it.

Who the person is rests only on links that prove ownership: the account an operator names (by
its username or its email), and the signup attempts linked to it. Nothing typed into a signup
(an email, a username) ever leads to an account: signup emails are never verified, and anyone
can type anybody's. When an identifier names no account, the attempts that were typed with it
and have no account are the person's (a refused signup is all there is of them). A device is
the person's only when every attempt on it is; on a shared device its own data (events, DRN
answers) stays for the others, and only the visitor id goes, everywhere, while the device's
counts stay, under a keyed hash of the visitor id, so that erasure is no way around the device
limit. Staff accounts are erased only when the operator says so.

Erasure is table-driven: `PERSONAL_TABLES` lists every table that can hold a person's data,
how to find their rows in it and what erasing them means. What is kept, and why:
docs/privacy.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from risk.clients import fingerprint_client
from risk.fingerprint.errors import AuthError, FingerprintError, NotFoundError
from risk.models import (
    Device,
    DeviceStatus,
    Erasure,
    FingerprintEvent,
    SignupAttempt,
)
from risk.services.devices import visitor_erased_form
from risk.services.jobs import BackfillError

logger = logging.getLogger(__name__)

ERASED = "[erased]"  # what replaces an identifier quoted in free text


# --- who the person is --------------------------------------------------------------------


@dataclass
class Subject:
    """The person's rows, and the strings that identify them."""

    account_ids: set[Any] = field(default_factory=set)
    attempt_ids: set[int] = field(default_factory=set)
    # Devices whose every attempt is the person's: their own data goes with the person.
    device_ids: set[int] = field(default_factory=set)
    # Devices the person shares with others: only the visitor id goes.
    shared_device_ids: set[int] = field(default_factory=set)
    visitor_ids: set[str] = field(default_factory=set)
    usernames: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    # Staff accounts the identifiers named, left out (an explicit flag names them).
    staff_skipped: int = 0

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


def _users():
    return get_user_model().objects


def _username_field() -> str:
    return get_user_model().USERNAME_FIELD


def _email_field() -> str:
    return get_user_model().get_email_field_name()


def person_find(
    *, username: str = "", email: str = "", visitor_id: str = "", include_staff: bool = False
) -> Subject:
    """The person named by any of these identifiers (see the module doc). Staff and superuser
    accounts are left out (and counted in `staff_skipped`) unless `include_staff`."""
    username, email, visitor_id = username.strip(), email.strip(), visitor_id.strip()
    if not (username or email or visitor_id):
        raise BackfillError("no_identifier", "give --username, --email or --visitor-id")
    s = Subject()
    typed = Q(pk__in=[])
    for value, field_name, attempt_field in (
        (username, _username_field(), "username"),
        (email, _email_field(), "email"),
    ):
        if not value:
            continue
        accounts = _users().filter(**{f"{field_name}__iexact": value})
        if not include_staff:
            staff = accounts.filter(Q(is_staff=True) | Q(is_superuser=True))
            s.staff_skipped += staff.count()
            accounts = accounts.exclude(pk__in=staff.values("pk"))
        found = set(accounts.values_list("pk", flat=True))
        if found:
            s.account_ids |= found
        elif not _users().filter(**{f"{field_name}__iexact": value}).exists():
            # No account by that name: the signups typed with it that have none are all there
            # is of the person (never widened through what else they typed).
            typed |= Q(**{f"{attempt_field}__iexact": value}, account__isnull=True)
            if attempt_field == "username":
                s.usernames.add(value)
            else:
                s.emails.add(value)
    if visitor_id:
        typed |= Q(visitor_id=visitor_id, account__isnull=True)
    _accounts_collect(s)
    _attempts_collect(s, typed)
    _devices_collect(s, visitor_id)
    return s


def person_of_attempts(*, attempt_ids: Iterable[int], include_staff: bool = False) -> Subject:
    """The person behind signup attempts chosen in the console: the account each created, and
    the attempts with no account themselves (never anything their typed values would name)."""
    attempts = SignupAttempt.objects.filter(pk__in=list(attempt_ids))
    s = Subject()
    accounts = _users().filter(pk__in=attempts.exclude(account=None).values("account_id"))
    if not include_staff:
        staff = accounts.filter(Q(is_staff=True) | Q(is_superuser=True))
        s.staff_skipped += staff.count()
        accounts = accounts.exclude(pk__in=staff.values("pk"))
    s.account_ids |= set(accounts.values_list("pk", flat=True))
    _accounts_collect(s)
    _attempts_collect(s, Q(pk__in=attempts.filter(account=None).values("pk")))
    _devices_collect(s, "")
    return s


def _accounts_collect(s: Subject) -> None:
    """The accounts' own identifiers: what notes and the admin log may quote."""
    rows = _users().filter(pk__in=s.account_ids).values_list(_username_field(), _email_field())
    for name, address in rows:
        s.usernames.add(name or "")
        s.emails.add(address or "")


def _attempts_collect(s: Subject, typed: Q) -> None:
    """The accounts' attempts (the one that created each), and the typed ones."""
    linked = SignupAttempt.objects.filter(account_id__in=s.account_ids)
    for pk, name, address, ip in linked.values_list("pk", "username", "email", "client_ip"):
        s.attempt_ids.add(pk)
        s.usernames.add(name)
        s.emails.add(address)
        s.ips.add(ip or "")
    for pk, ip in SignupAttempt.objects.filter(typed).values_list("pk", "client_ip"):
        s.attempt_ids.add(pk)
        s.ips.add(ip or "")
    for values in (s.usernames, s.emails, s.ips):
        values.discard("")


def _devices_collect(s: Subject, visitor_id: str) -> None:
    """The devices of the person's attempts (and the one named by its visitor id): theirs
    when every attempt on it is theirs, shared otherwise."""
    theirs = Q(pk__in=SignupAttempt.objects.filter(pk__in=s.attempt_ids).values("device_id"))
    if visitor_id:
        theirs |= Q(visitor_id__in=[visitor_id, visitor_erased_form(visitor_id)])
    devices = Device.objects.filter(theirs)
    for pk, visitor in devices.values_list("pk", "visitor_id"):
        others = SignupAttempt.objects.filter(device_id=pk).exclude(pk__in=s.attempt_ids)
        (s.shared_device_ids if others.exists() else s.device_ids).add(pk)
        if not visitor.startswith("erased"):
            s.visitor_ids.add(visitor)


def _own_events_q(s: Subject) -> Q:
    """The person's events: those behind their attempts, and every event of their own devices."""
    backing = SignupAttempt.objects.filter(
        pk__in=s.attempt_ids, fingerprint_event_id__isnull=False
    ).values_list("fingerprint_event_id", flat=True)
    return Q(pk__in=list(backing)) | Q(device_id__in=s.device_ids)


def _others_events_q(s: Subject) -> Q:
    """Other people's events that carry one of the person's visitor ids (a shared device)."""
    return Q(visitor_id__in=s.visitor_ids) & ~_own_events_q(s)


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


def _scrub_raw_visitors(rows: QuerySet, s: Subject) -> int:
    """Other people's raw JSON keeps its evidence; only the person's visitor ids go from it."""
    changed = 0
    for row in rows.only("pk", "raw"):
        raw = json.loads(_replace_strings(json.dumps(row.raw), s.visitor_ids))
        updates: dict[str, Any] = {"raw": raw} if raw != row.raw else {}
        if hasattr(row, "visitor_id"):
            updates["visitor_id"] = ""
        if updates:
            type(row).objects.filter(pk=row.pk).update(**updates)
            changed += 1
    return changed


def _replace_strings(text: str, values: set[str]) -> str:
    for value in values:
        text = text.replace(json.dumps(value), json.dumps(ERASED))
    return text


def _typed_identifiers_q(s: Subject) -> Q:
    """Signups that carry one of the person's identifiers: their visitor id (a shared device),
    or their username or email typed into someone else's signup."""
    q = Q(visitor_id__in=s.visitor_ids)
    for name in s.usernames:
        q |= Q(username__iexact=name)
    for address in s.emails:
        q |= Q(email__iexact=address)
    return q


def _strip_typed_identifiers(rows: QuerySet, s: Subject) -> int:
    """Another person's signup keeps its evidence; only the person's identifiers go from it."""
    usernames = {u.lower() for u in s.usernames}
    emails = {e.lower() for e in s.emails}
    changed = 0
    for pk, username, email, visitor in rows.values_list("pk", "username", "email", "visitor_id"):
        updates: dict[str, Any] = {}
        if visitor in s.visitor_ids:
            updates["visitor_id"] = ""
        if username.lower() in usernames:
            updates["username"] = ""
        if email.lower() in emails:
            updates.update(email="", email_domain_rev="")
        if updates:
            SignupAttempt.objects.filter(pk=pk).update(**updates)
            changed += 1
    return changed


def _anonymise_accounts(rows: QuerySet, s: Subject) -> int:
    # The row stays (attempts, device counts and reviewers' audit rows point at it); nothing
    # in it can name the person or let anyone log in as it.
    changed = 0
    username_field, email_field = _username_field(), _email_field()
    for account in rows:
        if email_field == username_field:  # email as username: still unique, still an address
            setattr(account, username_field, f"erased-{account.pk}@erased.invalid")
        else:
            setattr(account, username_field, f"erased-{account.pk}")
            setattr(account, email_field, "")
        for name in ("first_name", "last_name"):
            if hasattr(account, name):
                setattr(account, name, "")
        account.password = make_password(None)
        account.is_active = False
        account.last_login = None
        account.save()
        changed += 1
    return changed


def _forget_devices(rows: QuerySet, s: Subject) -> int:
    """The visitor id becomes its keyed hash (risk.services.devices.visitor_erased_form): the
    device's counts and status go on counting for its next signup, nothing names it. A blocked
    device keeps its visitor id: that identifier is the block."""
    changed = 0
    for pk, visitor in rows.exclude(status=DeviceStatus.BLOCKED).values_list("pk", "visitor_id"):
        if not visitor.startswith("erased"):
            Device.objects.filter(pk=pk).update(visitor_id=visitor_erased_form(visitor))
            changed += 1
    return changed


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
    """One table that can hold personal data, in one role."""

    model: str  # "app_label.ModelName" (or "user": the project's user model)
    rows: Callable[[Subject], Q]  # the rows concerned
    erase: Eraser  # what erasure does to them (returns rows changed)
    # theirs: the person's rows; identifier: other people's rows that only lose one of the
    # person's identifiers (a shared device's visitor id, an email typed into their signup)
    role: str = "theirs"
    exclude: tuple[str, ...] = ()  # fields never exported (secrets, not data about the person)
    # When `rows` is a substring prefilter: the exact test, on each row it found.
    keep: Callable[[Any, Subject], bool] | None = None

    @property
    def model_class(self) -> type[models.Model]:
        if self.model == "user":
            return get_user_model()
        return apps.get_model(self.model)

    @property
    def label(self) -> str:
        return self.model_class._meta.label

    def queryset(self, s: Subject) -> QuerySet:
        """The rows concerned (after `keep`), in primary-key order."""
        rows = self.model_class.objects.filter(self.rows(s)).distinct().order_by("pk")
        if self.keep is not None:
            ids = [row.pk for row in rows if self.keep(row, s)]
            rows = self.model_class.objects.filter(pk__in=ids).order_by("pk")
        return rows


# Order matters: rows are found before anything is changed, and tables whose rows are found
# through identifiers (notes, admin log) are matched on the values collected beforehand.
PERSONAL_TABLES: list[PersonalTable] = [
    PersonalTable(
        "user", lambda s: Q(pk__in=s.account_ids), _anonymise_accounts, exclude=("password",)
    ),
    PersonalTable(
        "risk.SignupAttempt",
        lambda s: Q(pk__in=s.attempt_ids),
        lambda rows, s: rows.update(
            username="",
            email="",
            email_domain_rev="",
            client_ip=None,
            client_network="",
            visitor_id="",
            erased_at=timezone.now(),
        ),
    ),
    PersonalTable(
        "risk.SignupAttempt",
        lambda s: _typed_identifiers_q(s) & ~Q(pk__in=s.attempt_ids),
        _strip_typed_identifiers,
        role="identifier",
    ),
    PersonalTable(
        "risk.FingerprintEventVersion",  # later copies of the person's events
        lambda s: Q(event__in=FingerprintEvent.objects.filter(_own_events_q(s))),
        _delete,
    ),
    PersonalTable(
        "risk.FingerprintEventVersion",
        lambda s: Q(event__in=FingerprintEvent.objects.filter(_others_events_q(s))),
        _scrub_raw_visitors,
        role="identifier",
    ),
    PersonalTable(
        "risk.FingerprintEvent",
        _own_events_q,
        # The event id stays: it is claimed, so the event can never back another signup.
        _update(raw={}, ip=None, url="", visitor_id="", country_code="", text_replaced=[]),
    ),
    PersonalTable(
        "risk.FingerprintEvent", _others_events_q, _scrub_raw_visitors, role="identifier"
    ),
    PersonalTable(
        "risk.DrnSnapshot",
        lambda s: (
            Q(device_id__in=s.device_ids)
            | Q(pk__in=SignupAttempt.objects.filter(pk__in=s.attempt_ids).values("drn_snapshot_id"))
        ),
        _delete,
        # Kept where it is someone else's evidence too.
        keep=lambda row, s: (
            not SignupAttempt.objects.filter(drn_snapshot_id=row.pk)
            .exclude(pk__in=s.attempt_ids)
            .exists()
        ),
    ),
    PersonalTable(
        "risk.DrnSnapshot",
        lambda s: Q(visitor_id__in=s.visitor_ids),
        _update(visitor_id=""),
        role="identifier",
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
    PersonalTable(
        "risk.Device", lambda s: Q(pk__in=s.device_ids | s.shared_device_ids), _forget_devices
    ),
    PersonalTable(
        "admin.LogEntry",
        _admin_log_q,
        _scrub("object_repr", "change_message"),
        keep=_log_entry_is_theirs,
    ),
    # The staff login lockout's records of the person trying the admin login (username, IP,
    # user agent, form data). Deleted: a lockout they were part of ends early.
    PersonalTable("axes.AccessAttempt", _typed_login_q, _delete),
    PersonalTable("axes.AccessFailureLog", _typed_login_q, _delete),
    PersonalTable("axes.AccessLog", _typed_login_q, _delete),
]


def _tables(*, role: str | None = None) -> Iterable[PersonalTable]:
    """The tables of the installed apps (a deployment may leave out django.contrib.admin)."""
    for table in PERSONAL_TABLES:
        if role is not None and table.role != role:
            continue
        if table.model != "user":
            try:
                apps.get_app_config(table.model.split(".")[0])
            except LookupError:
                continue
        yield table


# --- what would be exported or erased -------------------------------------------------------


def person_plan(*, subject: Subject) -> list[dict]:
    """Every row an erasure would change, table by table, and what it would do to it: the
    person's rows (`theirs`: exported, erased) and other people's rows that only lose one of
    the person's identifiers (`identifier`). What `--dry-run` prints and the console confirms."""
    plan = []
    for table in _tables():
        rows = list(table.queryset(subject))
        if rows:
            plan.append(
                {
                    "table": table.label,
                    "role": table.role,
                    "rows": [{"id": row.pk, "row": str(row)} for row in rows],
                }
            )
    return plan


# --- access requests: export --------------------------------------------------------------


def person_export(*, subject: Subject) -> dict:
    """Everything stored about the person, table by table, as JSON-ready data (their own rows
    only: other people's rows that carry one of their identifiers are not theirs to see)."""
    tables = {}
    for table in _tables(role="theirs"):
        names = [
            f.attname
            for f in table.model_class._meta.concrete_fields
            if f.name not in table.exclude
        ]
        rows = [dict(row) for row in table.queryset(subject).values(*names)]
        # Round-trip: dates, decimals, durations and IP objects become JSON values.
        tables[table.label] = json.loads(json.dumps(rows, cls=DjangoJSONEncoder))
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
    delete each of the person's own devices' visitors, except blocked devices' (outside the
    transaction: Fingerprint being down never undoes or fails the erasure; the outcome is
    recorded on the audit row). A shared device's visitor is not sent: Fingerprint's copy is
    the other people's evidence too.

    Running it again finds nothing left to erase and only adds another audit row.
    """
    reason = reason.strip()
    if not reason:
        raise BackfillError("reason_required", "say why (the request, the ticket): --reason")
    own = Device.objects.filter(pk__in=subject.device_ids)
    blocked = set(own.filter(status=DeviceStatus.BLOCKED).values_list("visitor_id", flat=True))
    own_visitors = set(own.values_list("visitor_id", flat=True)) & subject.visitor_ids
    to_forget = sorted(own_visitors - blocked)
    with transaction.atomic():
        found = [(t, list(t.queryset(subject).values_list("pk", flat=True))) for t in _tables()]
        summary: dict[str, dict] = {}
        for table, ids in found:
            if ids:
                rows = table.model_class.objects.filter(pk__in=ids)
                key = table.label if table.role == "theirs" else f"{table.label} ({table.role})"
                summary[key] = {"ids": ids, "changed": table.erase(rows, subject)}
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
