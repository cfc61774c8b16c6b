"""Read paths: the review console's queues, evidence, clusters and dashboard statistics, and
the rows the operator jobs walk.

Every console read here is bounded: lists are sliced, counts are capped or run on indexed ranges, so
pages stay fast on tables of millions of attempts (see docs/review-console.md).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower, TruncDate
from django.utils import timezone

from risk import rules
from risk.conf import risk_settings
from risk.email_domains import disposable_domain, email_domain
from risk.fingerprint.events import ANDROID, EventFormatError, normalise_event
from risk.fingerprint.suspect_score import score_breakdown
from risk.models import (
    Decision,
    Device,
    DeviceStatus,
    DrnSnapshot,
    DrnStatus,
    FingerprintEvent,
    ReviewDecision,
    ReviewStatus,
    SignupAttempt,
    SuspectReport,
    SuspectReportStatus,
    UnknownEvent,
    reversed_domain,
)

CLUSTER_LIMIT = 200  # rows of a device's cluster shown on one page
SAME_IP_WINDOW = timedelta(hours=24)
EVENT_ID_SHAPE = re.compile(r"^\d{13}\.[A-Za-z0-9]{6}$")
VISITOR_ID_SHAPE = re.compile(r"^[A-Za-z0-9]{20}$")
REFERENCE_SHAPE = re.compile(r"^[A-Za-z2-7]{16}$")  # models.attempt_reference_new (base32)


# --- queue ---------------------------------------------------------------------------------


def claimable_by_q(*, user, now: datetime) -> Q:
    """Attempts `user` may take: unclaimed, claimed by them, or a claim that has lapsed (the
    same test as `risk.services.review.claim_holder`). A filter, not an exclude(): NULLs in an
    exclude() would drop unclaimed rows."""
    return (
        Q(claimed_by__isnull=True)
        | Q(claimed_by=user)
        | Q(claimed_until__isnull=True)
        | Q(claimed_until__lte=now)
    )


def attempt_reason_q(*, code: str) -> Q:
    """Attempts whose `reasons` JSON list contains `code`, on PostgreSQL and SQLite."""
    if connection.vendor == "postgresql":
        return Q(reasons__contains=[code])  # jsonb @> '["code"]'
    # SQLite has no JSON containment; the quoted code only matches a whole list element.
    return Q(reasons__icontains=json.dumps(code))


def attempt_search_q(*, term: str) -> Q | None:
    """Exact-match search on the shape of the term (each branch hits an index)."""
    term = term.strip()
    if not term:
        return None
    try:
        return Q(client_ip=str(ipaddress.ip_address(term)))
    except ValueError:
        pass
    if term.startswith("@"):  # "@example.com": the domain and its subdomains
        return attempt_email_domain_q(domain=term)
    if "@" in term:
        return Q(email=term)
    if EVENT_ID_SHAPE.match(term):
        return Q(event_id=term)
    if VISITOR_ID_SHAPE.match(term):
        return Q(visitor_id=term)  # an OR with username would scan: usernames lack an index
    if REFERENCE_SHAPE.match(term):
        # The reference a user quotes to support; a 16-letter username is possible too (both
        # columns are indexed, so the OR stays two index lookups).
        return Q(reference=term.upper()) | Q(username=term)
    return Q(username=term)


def attempt_email_domain_q(*, domain: str) -> Q:
    """Emails at `domain` or any of its subdomains: an indexed prefix match on the reversed
    domain ("com.example" or "com.example.%"), never LIKE '%example.com'."""
    rev = reversed_domain(domain.strip().lstrip("@*."))
    if not rev:
        return Q(pk__in=[])
    return Q(email_domain_rev=rev) | Q(email_domain_rev__startswith=rev + ".")


def attempt_neighbour(
    *,
    queryset: QuerySet[SignupAttempt],
    attempt: SignupAttempt,
    newest_first: bool,
    step: int,
    skip_claimed_by_others_of=None,
) -> SignupAttempt | None:
    """The item after (step=1) or before (step=-1) `attempt` in `queryset` ordered by
    (created_at, pk), oldest or newest first: a keyset seek on the queue's index, so it works
    whether or not `attempt` is still in the selection (it was just decided). With a user,
    items another reviewer holds a live claim on are skipped."""
    forward = (step > 0) != newest_first  # towards later rows?
    if forward:
        seek = Q(created_at__gt=attempt.created_at) | Q(
            created_at=attempt.created_at, pk__gt=attempt.pk
        )
        order = ("created_at", "pk")
    else:
        seek = Q(created_at__lt=attempt.created_at) | Q(
            created_at=attempt.created_at, pk__lt=attempt.pk
        )
        order = ("-created_at", "-pk")
    queryset = queryset.filter(seek)
    user = skip_claimed_by_others_of
    if user is not None:
        queryset = queryset.filter(claimable_by_q(user=user, now=timezone.now()))
    pk = queryset.order_by(*order).values_list("pk", flat=True).first()
    return SignupAttempt(pk=pk) if pk is not None else None


@dataclass(frozen=True)
class CheckRow:
    name: str
    result: str  # passed | failed | skipped


@dataclass(frozen=True)
class ReasonRow:
    code: str
    outcome: str
    description: str


def attempt_signals(*, attempt: SignupAttempt) -> dict:
    """The attempt's signals in words, from its raw event snapshot."""
    snapshot = attempt.fingerprint_event
    if snapshot is None:
        return {"event": None, "lines": [], "score": None, "breakdown": [], "error": ""}
    if not snapshot.raw:
        gone = "the raw snapshot was removed (retention window or erasure)"
        return {"event": None, "lines": [], "score": None, "breakdown": [], "error": gone}
    try:
        event = normalise_event(snapshot.raw)
    except EventFormatError as exc:
        return {"event": None, "lines": [], "score": None, "breakdown": [], "error": str(exc)}
    lines = []
    if event.bot == "bad":
        lines.append(("bad", f"bad bot: {_words(event.bot_type) or 'unknown type'}"))
    elif event.bot == "good":
        lines.append(("warn", f"good bot: {_words(event.bot_type) or 'unknown type'}"))
    elif event.bot == "not_detected":
        lines.append(("ok", "no bot detected"))
    cfg = risk_settings()  # tones follow the thresholds the rules use
    breakdown = score_breakdown(event.present_signals())
    score = event.suspect_score
    if score is not None:
        parts = ", ".join(f"{label} {weight}" for label, weight in breakdown)
        tone = "bad" if score >= cfg.suspect_score_review else ("warn" if score > 0 else "ok")
        lines.append((tone, f"suspect score {score}" + (f": {parts}" if parts else "")))
    if event.vpn:
        origin = event.vpn_origin_country
        lines.append(("warn", "VPN" + (f" (real location {origin})" if origin else "")))
    if event.tampering or event.anti_detect_browser:
        kind = "anti-detect browser" if event.anti_detect_browser else "browser tampering"
        lines.append(("bad", kind))
    if event.tor:
        lines.append(("warn", "Tor exit node"))
    if event.replayed:
        lines.append(("bad", "identification replayed"))
    if event.confidence is not None:
        lines.append(
            (
                "ok" if event.confidence >= cfg.min_confidence else "warn",
                f"confidence {event.confidence:.2f}",
            )
        )
    return {"event": event, "lines": lines, "score": score, "breakdown": breakdown, "error": ""}


def _words(code: str) -> str:
    return code.replace("_", " ")


@dataclass(frozen=True)
class SignupCircumstances:
    """The email domain's standing, the allowlist entry and the network's other devices, for
    the evidence page (the facts as the decision saw them, the domain list as it is now)."""

    email_domain: str
    disposable_now: bool
    disposable_at_signup: bool | None  # None: recorded before the rule existed
    allowlist_entry: str
    network_new_devices: int | None
    network_established_devices: int | None


def attempt_circumstances(*, attempt: SignupAttempt) -> SignupCircumstances:
    facts = attempt.facts or {}
    domain = email_domain(attempt.email)
    return SignupCircumstances(
        email_domain=domain,
        disposable_now=disposable_domain(domain, risk_settings()),
        disposable_at_signup=facts.get("email_disposable"),
        allowlist_entry=facts.get("allowlist_entry", ""),
        network_new_devices=facts.get("ip_new_devices"),
        network_established_devices=facts.get("ip_established_devices"),
    )


def attempt_checks(*, attempt: SignupAttempt) -> list[CheckRow]:
    checks = attempt.checks or {}
    rows = [CheckRow(name, checks.get(name, rules.SKIPPED)) for name in rules.CHECKS]
    rows += [CheckRow(name, value) for name, value in checks.items() if name not in rules.CHECKS]
    return rows


def attempt_reasons(*, attempt: SignupAttempt) -> list[ReasonRow]:
    rows = []
    for code in attempt.reasons or []:
        reason = rules.REASONS.get(code)
        rows.append(ReasonRow(code, reason.outcome if reason else "", rules.describe(code)))
    return rows


@dataclass(frozen=True)
class ClusterAccount:
    """An account on a device's cluster, whatever the user model's fields are called."""

    pk: object
    username: str
    email: str
    joined: datetime  # when its signup was decided
    is_active: bool

    @classmethod
    def of(cls, attempt: SignupAttempt) -> ClusterAccount:
        account = attempt.account
        return cls(
            pk=account.pk,
            username=account.get_username(),
            email=getattr(account, account.get_email_field_name(), "") or "",
            joined=attempt.created_at,
            is_active=account.is_active,
        )


def device_cluster(*, device: Device | None, limit: int = CLUSTER_LIMIT) -> dict:
    """Every account and attempt on one device (newest first, bounded)."""
    if device is None:
        return {"accounts": [], "attempts": [], "truncated": False}
    signed_up = (
        SignupAttempt.objects.filter(device=device, account__isnull=False)
        .select_related("account")
        .order_by("-created_at")[: limit + 1]
    )
    accounts = [ClusterAccount.of(attempt) for attempt in signed_up]
    attempts = list(
        SignupAttempt.objects.filter(device=device)
        .select_related("account")
        .only(
            "pk",
            "created_at",
            "username",
            "email",
            "client_ip",
            "decision",
            "reasons",
            "review_status",
            "account",
        )
        .order_by("-created_at")[: limit + 1]
    )
    truncated = len(accounts) > limit or len(attempts) > limit
    return {"accounts": accounts[:limit], "attempts": attempts[:limit], "truncated": truncated}


def attempts_same_ip(*, attempt: SignupAttempt, limit: int = 50) -> list[SignupAttempt]:
    """Other attempts from the attempt's IP in the 24 h before it (attempt_ip_idx)."""
    if not attempt.client_ip:
        return []
    return list(
        SignupAttempt.objects.filter(
            client_ip=attempt.client_ip,
            created_at__gte=attempt.created_at - SAME_IP_WINDOW,
            created_at__lte=attempt.created_at + SAME_IP_WINDOW,
        )
        .exclude(pk=attempt.pk)
        .only("pk", "created_at", "username", "visitor_id", "decision", "review_status")
        .order_by("-created_at")[:limit]
    )


def attempt_decisions(*, attempt: SignupAttempt) -> list[ReviewDecision]:
    """Reviewer decisions on this attempt or its device, newest first."""
    q = Q(attempt=attempt)
    if attempt.device_id:
        q |= Q(device_id=attempt.device_id)
    return list(
        ReviewDecision.objects.filter(q).select_related("actor").order_by("-created_at")[:100]
    )


def device_decisions(*, device: Device, limit: int = 100) -> list[ReviewDecision]:
    """Decisions on the device or on its attempts, newest first. Two indexed queries merged
    here: one OR across the join made PostgreSQL scan the whole audit log (0.8 s at 50,000
    decisions)."""
    rows = ReviewDecision.objects.select_related("actor", "attempt").order_by("-created_at")
    on_device = list(rows.filter(device=device)[:limit])
    attempt_ids = SignupAttempt.objects.filter(device=device).values("pk")
    on_attempts = list(rows.filter(attempt__in=attempt_ids).exclude(device=device)[:limit])
    merged = sorted(on_device + on_attempts, key=lambda d: (d.created_at, d.pk), reverse=True)
    return merged[:limit]


# --- clusters and dashboard ----------------------------------------------------------------


def device_largest_clusters(*, by: str = "accounts", limit: int = 10) -> QuerySet[Device]:
    """Devices with the most accounts (or attempts): account farms float to the top."""
    field = "account_count" if by == "accounts" else "attempt_count"
    return Device.objects.filter(**{f"{field}__gt": 1}).order_by(f"-{field}", "pk")[:limit]


def stats_signups_per_day(*, days: int = 14) -> list[dict]:
    """[{day, allow, review, deny, total}] for the last `days` days, oldest first."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    rows = (
        SignupAttempt.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "decision")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_day = {start + timedelta(days=i): {"allow": 0, "review": 0, "deny": 0} for i in range(days)}
    for row in rows:
        if row["day"] in per_day and row["decision"] in per_day[row["day"]]:
            per_day[row["day"]][row["decision"]] = row["n"]
    peak = max((sum(v.values()) for v in per_day.values()), default=0) or 1
    out = []
    for day, counts in per_day.items():
        total = sum(counts.values())
        out.append(
            {
                "day": day,
                "total": total,
                **counts,
                # bar heights in % of the busiest day, per decision (stacked)
                "pct": {k: round(100 * v / peak, 1) for k, v in counts.items()},
            }
        )
    return out


def stats_top_reasons(*, days: int = 7, limit: int = 8) -> list[dict]:
    """The reason codes that fired most in the last `days` days."""
    since = timezone.now() - timedelta(days=days)
    table = SignupAttempt._meta.db_table
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT r, COUNT(*) FROM {table}, jsonb_array_elements_text(reasons::jsonb) AS r "  # noqa: S608
            "WHERE created_at >= %s GROUP BY r ORDER BY COUNT(*) DESC LIMIT %s"
        )
    else:
        sql = (
            f"SELECT j.value, COUNT(*) FROM {table}, json_each({table}.reasons) AS j "  # noqa: S608
            "WHERE created_at >= %s GROUP BY j.value ORDER BY COUNT(*) DESC LIMIT %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [since, limit])
        rows = cursor.fetchall()
    peak = max((n for _, n in rows), default=0) or 1
    return [
        {
            "code": code,
            "count": n,
            "pct": round(100 * n / peak, 1),
            "description": rules.describe(code),
            "outcome": rules.REASONS[code].outcome if code in rules.REASONS else "",
        }
        for code, n in rows
    ]


def stats_open_reviews() -> int:
    """Pending reviews (an index-only count on the partial queue index)."""
    return SignupAttempt.objects.filter(review_status=ReviewStatus.PENDING).count()


def stats_backlog() -> dict:
    """Pending reviews and how long the oldest has waited (both on attempt_queue_idx)."""
    pending = SignupAttempt.objects.filter(review_status=ReviewStatus.PENDING)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    return {
        "size": pending.count(),
        "oldest_at": oldest,
        "oldest_age": (timezone.now() - oldest) if oldest else None,
    }


DECISION_SAMPLE = 5000  # the newest decisions the median is taken over


def stats_time_to_decision(*, days: int = 30) -> dict:
    """Median and 90th percentile of signup-to-decision time of the held attempts reviewers
    decided in the last `days` days (the newest DECISION_SAMPLE; decision_created_idx)."""
    since = timezone.now() - timedelta(days=days)
    pairs = list(
        ReviewDecision.objects.filter(
            created_at__gte=since,
            parent__isnull=True,
            attempt__isnull=False,
            previous__review_status=ReviewStatus.PENDING,
        )
        .order_by("-created_at")
        .values_list("created_at", "attempt__created_at")[:DECISION_SAMPLE]
    )
    waits = sorted(decided - created for decided, created in pairs)
    if not waits:
        return {"count": 0, "median": None, "p90": None}
    return {
        "count": len(waits),
        "median": waits[len(waits) // 2]
        if len(waits) % 2
        else (waits[len(waits) // 2 - 1] + waits[len(waits) // 2]) / 2,
        "p90": waits[min(len(waits) - 1, int(len(waits) * 0.9))],
    }


def stats_reason_outcomes(*, days: int = 30) -> list[dict]:
    """Per reason code, how reviewers decided the held attempts it fired on (attempts of the
    last `days` days): approved vs rejected, and the approve rate, i.e. how often the rule
    held someone a reviewer then let in (its false-positive rate)."""
    since = timezone.now() - timedelta(days=days)
    table = SignupAttempt._meta.db_table
    if connection.vendor == "postgresql":
        element = "jsonb_array_elements_text(reasons::jsonb) AS r"
        code = "r"
    else:
        element = f"json_each({table}.reasons) AS j"
        code = "j.value"
    sql = (
        f"SELECT {code}, review_status, COUNT(*) FROM {table}, {element} "  # noqa: S608
        "WHERE created_at >= %s AND review_status IN (%s, %s) GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [since, ReviewStatus.APPROVED, ReviewStatus.REJECTED])
        rows = cursor.fetchall()
    per_code: dict[str, dict] = {}
    for reason, status, n in rows:
        entry = per_code.setdefault(reason, {"code": reason, "approved": 0, "rejected": 0})
        entry[status] = n
    out = []
    for entry in per_code.values():
        decided = entry["approved"] + entry["rejected"]
        out.append({**entry, "decided": decided, "approve_rate": entry["approved"] / decided})
    return sorted(out, key=lambda e: (-e["decided"], e["code"]))


DASHBOARD_CACHE_KEY = "risk:review-dashboard"
DASHBOARD_MAX_AGE_S = 30


def stats_dashboard() -> dict:
    """The admin index's figures, computed at most every DASHBOARD_MAX_AGE_S seconds: the
    aggregates scan a week or two of attempts, and every staff page load hits the index."""
    return cache.get_or_set(DASHBOARD_CACHE_KEY, _stats_dashboard, DASHBOARD_MAX_AGE_S)


def _stats_dashboard() -> dict:
    per_day = stats_signups_per_day()
    return {
        "per_day": per_day,
        "totals": {k: sum(d[k] for d in per_day) for k in ("allow", "review", "deny", "total")},
        "top_reasons": stats_top_reasons(),
        "open_reviews": stats_open_reviews(),
        "backlog": stats_backlog(),
        "time_to_decision": stats_time_to_decision(),
        "reason_outcomes": stats_reason_outcomes(),
        "clusters": list(device_largest_clusters(by="accounts", limit=8)),
        "attempt_clusters": list(device_largest_clusters(by="attempts", limit=8)),
    }


# --- jobs (risk/services/backfill_*.py, importing.py, rescore.py) ---------------------------


def attempts_missing_snapshot(*, after: int = 0) -> QuerySet[SignupAttempt]:
    """Attempts with an event id but no snapshot, in pk order after `after` (a checkpoint).
    Ids already resolved as not found (at signup, or by an earlier backfill) are left out:
    Fingerprint's "not found" is final, asking again every run only burns quota. Unverified
    attempts are left out too: verification decides them with the rules
    (risk.services.verification), it never just links them."""
    return (
        SignupAttempt.objects.filter(fingerprint_event__isnull=True, pk__gt=after)
        .exclude(event_id="")
        .exclude(decision=Decision.UNVERIFIED)
        .exclude(attempt_reason_q(code="event_not_found"))
        .exclude(Exists(UnknownEvent.objects.filter(event_id=OuterRef("event_id"))))
        .order_by("pk")
    )


def events_stored(*, event_ids: list[str]) -> set[str]:
    """Which of these event ids have a stored snapshot."""
    return set(
        FingerprintEvent.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True)
    )


def device_android_q() -> Q:
    """Android devices; devices stored before their platform was recorded count when one of
    their stored events says Android. The one definition (see `device_is_android`)."""
    return Q(platform=ANDROID) | Q(platform="", events__platform=ANDROID)


def device_is_android(*, device: Device) -> bool:
    if device.platform:  # the first half of device_android_q, without a query
        return device.platform == ANDROID
    return Device.objects.filter(device_android_q(), pk=device.pk).exists()


def devices_drn_due(*, max_age: timedelta, after: int = 0) -> QuerySet[Device]:
    """Android devices owing a DRN lookup: queued (drn_lookup_pending), never answered, or
    whose latest answer is older than `max_age`; in id order after `after` (a checkpoint)."""
    fresh = DrnSnapshot.objects.filter(
        device=OuterRef("pk"),
        status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND),
        fetched_at__gte=timezone.now() - max_age,
    )
    return (
        Device.objects.filter(device_android_q(), id__gt=after)
        .filter(Q(drn_lookup_pending=True) | ~Exists(fresh))
        .distinct()
        .order_by("id")
    )


def drn_snapshot_cached(*, device: Device, max_age_s: int) -> DrnSnapshot | None:
    """The device's latest answered DRN lookup (ok or not_found) younger than `max_age_s`."""
    if max_age_s <= 0:
        return None
    return (
        DrnSnapshot.objects.filter(
            device=device,
            status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND),
            fetched_at__gte=timezone.now() - timedelta(seconds=max_age_s),
        )
        .order_by("-fetched_at", "-pk")
        .first()
    )


def attempt_awaiting_drn(*, device: Device) -> SignupAttempt | None:
    """The device's latest attempt without an answered DRN lookup (the one a new lookup
    becomes the evidence of)."""
    return (
        SignupAttempt.objects.filter(device=device)
        .exclude(drn_snapshot__status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND))
        .order_by("-created_at", "-pk")
        .first()
    )


def usernames_taken(*, usernames: list[str]) -> set[str]:
    """The lower-cased usernames among these that an account already has (case-insensitive)."""
    # No stored username holds a NUL (and PostgreSQL refuses to compare with one).
    lowered = {u.lower() for u in usernames if "\x00" not in u}
    user_model = get_user_model()
    return set(
        user_model.objects.annotate(lower=Lower(user_model.USERNAME_FIELD))
        .filter(lower__in=lowered)
        .values_list("lower", flat=True)
    )


def device_account_counts(*, visitor_ids: list[str]) -> dict[str, int]:
    """visitor_id -> accounts on that device today (devices without accounts left out)."""
    return dict(
        SignupAttempt.objects.filter(device__visitor_id__in=visitor_ids, account__isnull=False)
        .values_list("device__visitor_id")
        .annotate(n=Count("pk"))
    )


def devices_trusted(*, visitor_ids: list[str]) -> set[str]:
    """The visitor ids among these whose device a reviewer trusts (no account limit)."""
    return set(
        Device.objects.filter(visitor_id__in=visitor_ids, status=DeviceStatus.TRUSTED).values_list(
            "visitor_id", flat=True
        )
    )


def device_join_dates(*, device_ids: set[int]) -> dict[int, list[datetime]]:
    """device pk -> the sorted signup times of its accounts."""
    joined: dict[int, list] = defaultdict(list)
    rows = SignupAttempt.objects.filter(
        device_id__in=device_ids, account__isnull=False
    ).values_list("device_id", "created_at")
    for device_id, date_joined in rows:
        joined[device_id].append(date_joined)
    for dates in joined.values():
        dates.sort()
    return joined


def device_drn_latest(*, device_id: int | None, other_than: int | None) -> DrnSnapshot | None:
    """The device's most recent DRN lookup, when it is not `other_than` (the attempt's own)."""
    if device_id is None:
        return None
    latest = DrnSnapshot.objects.filter(device_id=device_id).order_by("-fetched_at", "-pk").first()
    return None if latest is None or latest.pk == other_than else latest


def attempt_suspect_report(*, attempt: SignupAttempt, log_limit: int = 10) -> dict | None:
    """What the reviewers' decisions told Fingerprint about the attempt's event: its report
    and the newest requests, or None when nothing was ever wanted."""
    if attempt.fingerprint_event_id is None:
        return None
    report = (
        SuspectReport.objects.select_related("event", "decision__actor")
        .filter(event_id=attempt.fingerprint_event_id)
        .first()
    )
    if report is None:
        return None
    log = list(report.log.select_related("decision").order_by("-created_at", "-pk")[:log_limit])
    return {"report": report, "log": log}


def suspect_reports_owed(*, limit: int, idle_for: timedelta | None) -> list[int]:
    """Reports Fingerprint is owed a request for: due (and, with `idle_for`, untouched that
    long: no task of theirs is still on the way), or claimed by a sender whose lease ran out."""
    now = timezone.now()
    due = Q(status=SuspectReportStatus.DUE)
    if idle_for is not None:
        due &= Q(updated_at__lt=now - idle_for)
    stale = Q(status=SuspectReportStatus.SENDING, claimed_until__lt=now)
    owed = SuspectReport.objects.filter(
        due | stale, status__in=(SuspectReportStatus.DUE, SuspectReportStatus.SENDING)
    )
    return list(owed.order_by("updated_at", "pk").values_list("pk", flat=True)[:limit])
