"""Devices, event snapshots, signup attempts and the reviewers' audit log.

Locking policy (see docs/architecture.md): a signup that the rules must decide locks its Device
row with one upsert (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which holds the row lock
until commit like `SELECT ... FOR UPDATE`) for the few milliseconds it takes to read the
device's history, decide and write the attempt; refusals that a plain read already proves take
no lock, and password hashing happens outside it. Unique constraints (Device.visitor_id,
FingerprintEvent.event_id, SignupAttempt.claimed_event_id) are the last line of defence.

Evidence is never rewritten: once stored, a FingerprintEvent's `raw` stays what a decision
saw; later copies of the event (webhook, backfill) go to FingerprintEventVersion beside it.
"""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from risk.rules import Decision  # one enum for the rules and the models


def attempt_reference_new() -> str:
    """The public reference of an attempt: 80 random bits, base32 (16 characters, A-Z and 2-7,
    easy to read out to support). Sequential ids would tell anyone how many signups we have."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


class ReviewStatus(models.TextChoices):
    NONE = "", "Not needed"
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class DeviceStatus(models.TextChoices):
    NORMAL = "normal", "Normal"
    BLOCKED = "blocked", "Blocked"  # every future signup from it is denied
    TRUSTED = "trusted", "Trusted"  # shared family/office device: no per-device account limit


class Device(models.Model):
    """One Fingerprint visitor: the unit we count accounts on."""

    visitor_id = models.CharField(max_length=64, unique=True)
    platform = models.CharField(max_length=16, blank=True)
    status = models.CharField(
        max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.NORMAL
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    # Denormalised counters for the cluster ranking; kept exact under the row lock.
    account_count = models.PositiveIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    # A DRN lookup was skipped or failed at signup time; `backfill_drn` picks these up.
    drn_lookup_pending = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], condition=Q(drn_lookup_pending=True), name="device_drn_pending_idx"
            ),
            models.Index(fields=["-account_count"], name="device_accounts_idx"),
            models.Index(fields=["-attempt_count"], name="device_attempts_idx"),
        ]

    def __str__(self) -> str:
        return self.visitor_id


class FingerprintEvent(models.Model):
    """The raw event JSON, untouched, plus the fields we filter and sort on. Webhooks and
    backfills never overwrite it: a different later copy becomes a FingerprintEventVersion."""

    event_id = models.CharField(max_length=64, unique=True)
    api_version = models.CharField(max_length=4, default="v4")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    timestamp = models.DateTimeField(null=True, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    url = models.TextField(blank=True)
    platform = models.CharField(max_length=16, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    bot = models.CharField(max_length=32, blank=True)
    bot_type = models.CharField(max_length=64, blank=True)
    suspect_score = models.IntegerField(null=True, blank=True)
    vpn = models.BooleanField(null=True)
    proxy = models.BooleanField(null=True)
    tampering = models.BooleanField(null=True)
    incognito = models.BooleanField(null=True)
    tor = models.BooleanField(null=True)
    replayed = models.BooleanField(null=True)
    country_code = models.CharField(max_length=8, blank=True)
    asn_name = models.CharField(max_length=255, blank=True)  # the network (ASN) of the IP
    raw = models.JSONField()  # jsonb on PostgreSQL
    # Where `raw` held text no database can store, replaced (risk/storable.py): JSON paths.
    text_replaced = models.JSONField(default=list, blank=True)
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The review queue's country and network filters.
            models.Index(fields=["country_code"], name="event_country_idx"),
            models.Index(fields=["asn_name"], name="event_asn_idx"),
        ]

    def __str__(self) -> str:
        return self.event_id


class FingerprintEventVersion(models.Model):
    """A later copy of a stored event that differs from it (e.g. tags or linked_id patched,
    a webhook resent), kept beside the original so the original stays the evidence."""

    event = models.ForeignKey(
        FingerprintEvent, on_delete=models.CASCADE, related_name="later_versions"
    )
    source = models.CharField(max_length=16)  # webhook | backfill
    raw = models.JSONField()
    text_replaced = models.JSONField(default=list, blank=True)  # see FingerprintEvent
    fetched_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_id} from {self.source} at {self.fetched_at:%Y-%m-%d %H:%M}"


class UnknownEvent(models.Model):
    """An event id Fingerprint answered "not found" for: `backfill_events` does not ask again."""

    event_id = models.CharField(max_length=64, unique=True)
    checked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event_id


class SignupAttempt(models.Model):
    """Every signup attempt, whatever its outcome. Never holds a password."""

    created_at = models.DateTimeField(auto_now_add=True)
    # Opaque public reference: what the API returns and support quotes (unique, indexed).
    reference = models.CharField(
        max_length=16, unique=True, default=attempt_reference_new, editable=False
    )
    username = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # What the per-network limits count: the IPv4 address, or the IPv6 /64's first address
    # (risk.client_ip.network_key); "" when the client IP is unknown.
    client_network = models.CharField(max_length=45, blank=True, default="")
    origin = models.CharField(max_length=255, blank=True)
    # The identifier the client sent (event_id, or requestId on the seed-compatible endpoint).
    event_id = models.CharField(max_length=64, db_index=True)
    # Set on the one attempt an event backs; NULL on refusals that must not burn the event
    # (Fingerprint unavailable, event not found). Unique: an event backs one attempt, ever.
    claimed_event_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    fingerprint_event = models.ForeignKey(
        FingerprintEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts"
    )
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts"
    )
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reasons = models.JSONField(default=list, blank=True)  # reason codes, see risk/rules.py
    # History the rules read (accounts before, same network, farm signals...), for reviewers
    # and `rescore`; and whether Fingerprint first saw the device minutes before (the
    # new-devices-per-IP rule counts these).
    facts = models.JSONField(default=dict, blank=True)
    device_new = models.BooleanField(null=True)
    checks = models.JSONField(default=dict, blank=True)  # check name -> passed / failed / skipped
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signup_attempt",
    )
    endpoint = models.CharField(max_length=32, default="signup")
    fingerprint_error = models.CharField(max_length=255, blank=True)
    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.NONE, blank=True
    )
    drn_snapshot = models.ForeignKey(
        "DrnSnapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The email's domain with its labels reversed ("com.example.mail"): a domain-suffix search
    # becomes an indexed prefix match. Kept in step with `email` by save().
    email_domain_rev = models.CharField(max_length=255, blank=True, editable=False)
    # A reviewer's soft lock on a pending item (see risk.services.review.attempt_claim).
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When the person behind it was erased (risk.services.privacy): nothing undoes that, and
    # nothing (an unblock restoring what a block did) brings its account back.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at"], name="attempt_created_idx"),
            models.Index(
                fields=["-created_at"],
                condition=Q(review_status="pending"),
                name="attempt_queue_idx",
            ),
            models.Index(fields=["decision", "-created_at"], name="attempt_decision_idx"),
            models.Index(fields=["client_ip", "-created_at"], name="attempt_ip_idx"),
            models.Index(fields=["client_network", "-created_at"], name="attempt_network_idx"),
            # Exact search in the review console.
            models.Index(fields=["username"], name="attempt_username_idx"),
            models.Index(fields=["email"], name="attempt_email_idx"),
            # Email-domain suffix search: LIKE 'com.example.%' needs pattern ops on PostgreSQL.
            models.Index(
                fields=["email_domain_rev"],
                name="attempt_email_domain_idx",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.username} ({self.decision})"

    def save(self, *args, **kwargs):
        self.derived_fields_fill()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_domain_rev"}
        super().save(*args, **kwargs)

    def derived_fields_fill(self) -> None:
        """Fields computed from others (also for writers that bypass save())."""
        self.email_domain_rev = reversed_domain(self.email)


def reversed_domain(email_or_domain: str) -> str:
    """ "a@Mail.Example.com" or "example.com" -> "com.example.mail" / "com.example"."""
    domain = (email_or_domain or "").rpartition("@")[2].strip().strip(".").lower()
    return ".".join(reversed(domain.split(".")))[:255] if domain else ""


class ReviewAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    BLOCK_DEVICE = "block_device", "Block device"
    TRUST_DEVICE = "trust_device", "Trust device"
    VERIFY = "verify", "Verify"  # automatic: an unverified signup's event was checked later
    UNBLOCK_DEVICE = "unblock_device", "Unblock device"
    # Written by a block (or its reversal), one row per item it changed; `parent` is the
    # reviewer's decision that caused it.
    BLOCK_REJECT = "block_reject", "Rejected by a device block"
    BLOCK_DEACTIVATE = "block_deactivate", "Deactivated by a device block"
    UNBLOCK_RESTORE = "unblock_restore", "Restored by an unblock"


class ReviewDecision(models.Model):
    """Append-only audit log of what a reviewer decided, and why."""

    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    attempt = models.ForeignKey(
        SignupAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    action = models.CharField(max_length=16, choices=ReviewAction.choices)
    reason = models.CharField(max_length=64)
    note = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="effects"
    )
    # What this row changed, as it was before: {"review_status": "pending", "is_active": true}.
    # An unblock restores exactly these values (and only where nothing changed since).
    previous = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at"], name="decision_created_idx"),
            models.Index(fields=["actor", "-created_at"], name="decision_actor_idx"),
        ]
        permissions = [("record_decision", "Can record review decisions")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"


class ReviewEmailStatus(models.TextChoices):
    DUE = "due", "Due"
    SENDING = "sending", "Sending"  # claimed by one sender: never sent by another
    SENT = "sent", "Sent"
    REFUSED = "refused", "Refused by the mail server"
    FAILED = "failed", "Failed after every retry"
    SKIPPED = "skipped", "Not sent (no address, or decided again since)"


class ReviewEmail(models.Model):
    """The email a reviewer's decision owes the user whose held account it settled, written in
    the decision's transaction. A sender claims it (due -> sending) before sending, so each
    decision sends at most one email, however often its task is delivered."""

    decision = models.OneToOneField(ReviewDecision, on_delete=models.CASCADE, related_name="email")
    attempt = models.ForeignKey(SignupAttempt, on_delete=models.CASCADE, related_name="+")
    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices)
    status = models.CharField(
        max_length=16, choices=ReviewEmailStatus.choices, default=ReviewEmailStatus.DUE
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"email for decision {self.decision_id}: {self.status}"


class SuspectReportStatus(models.TextChoices):
    DUE = "due", "Due"  # Fingerprint does not have the wanted value yet
    SENDING = "sending", "Sending"  # claimed by one sender: no other sends it meanwhile
    SENT = "sent", "Sent"  # Fingerprint has the wanted value
    NOT_NEEDED = "not_needed", "Nothing to send"  # taken back before it was ever sent
    REFUSED = "refused", "Refused by Fingerprint"  # a 4xx answer: not retried
    TOO_OLD = "too_old", "Too old to update"  # Fingerprint updates events up to a month old


class SuspectReport(models.Model):
    """What our reviewers want Fingerprint to believe about one event (`suspect`), and what it
    has from us: one row per event, written in the decision's transaction, sent by a worker
    (risk.services.feedback). `wish` counts changes of mind: a sender marks the row sent only
    if no new wish came while its request was on the way."""

    event = models.OneToOneField(
        FingerprintEvent, on_delete=models.CASCADE, related_name="suspect_report"
    )
    wanted = models.BooleanField()
    reported = models.BooleanField(null=True)  # None: never told anything
    wish = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=SuspectReportStatus.choices, default=SuspectReportStatus.DUE
    )
    # The decision behind the latest wish (a reject, a block, an approval, an unblock).
    decision = models.ForeignKey(
        ReviewDecision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suspect_reports",
    )
    claimed_until = models.DateTimeField(null=True, blank=True)  # a sender's lease
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)  # set by every write
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # What is owed: the sweep and `send_suspect_feedback` walk only these rows.
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=["due", "sending"]),
                name="suspect_report_owed_idx",
            ),
            models.Index(fields=["-updated_at"], name="suspect_report_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: suspect={self.wanted} ({self.status})"


class SuspectReportLog(models.Model):
    """Append-only: every request that told Fingerprint an event's suspect flag, with its
    answer, and every event found too old to update."""

    created_at = models.DateTimeField(auto_now_add=True)
    report = models.ForeignKey(SuspectReport, on_delete=models.CASCADE, related_name="log")
    event_id = models.CharField(max_length=64)  # Fingerprint's id, as sent
    suspect = models.BooleanField()
    # sent | retry (worth trying again) | refused | too_old | gave_up (retries spent)
    outcome = models.CharField(max_length=16)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    code = models.CharField(max_length=64, blank=True)  # Fingerprint's error code
    message = models.CharField(max_length=255, blank=True)
    decision = models.ForeignKey(
        ReviewDecision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["-created_at"], name="suspect_log_created_idx"),
            models.Index(fields=["event_id"], name="suspect_log_event_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} suspect={self.suspect}: {self.outcome}"


class DrnStatus(models.TextChoices):
    OK = "ok", "OK"
    NOT_FOUND = "not_found", "Unknown to DRN"
    ERROR = "error", "Error"


class DrnSnapshot(models.Model):
    """One Device Reputation Network lookup: raw JSON plus the columns reviewers filter on."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="drn_snapshots")
    visitor_id = models.CharField(max_length=64, db_index=True)
    fetched_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, choices=DrnStatus.choices)
    error = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    text_replaced = models.JSONField(default=list, blank=True)  # see FingerprintEvent
    # [{"code": "US", "ip": 0.6, "origin": 1.0}, ...] (shares of activity per detector)
    countries = models.JSONField(default=list, blank=True)
    location_masked = models.BooleanField(null=True)
    min_suspect_score = models.IntegerField(null=True, blank=True)
    max_suspect_score = models.IntegerField(null=True, blank=True)
    max_percentile = models.FloatField(null=True, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Device age (first_seen_at to the signup) when taken at signup time.
    device_age_at_signup = models.DurationField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["device", "-fetched_at"], name="drn_device_latest_idx")]

    def __str__(self) -> str:
        return f"DRN {self.visitor_id} {self.status} at {self.fetched_at:%Y-%m-%d %H:%M}"


class Reassessment(models.Model):
    """What the current rules say about a past attempt (`manage.py rescore`). Never overwrites
    the original decision or a reviewer's."""

    attempt = models.ForeignKey(
        SignupAttempt, on_delete=models.CASCADE, related_name="reassessments"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    run_id = models.CharField(max_length=64, db_index=True)
    previous_decision = models.CharField(max_length=16, choices=Decision.choices)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run_id", "attempt"], name="reassessment_once_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.previous_decision} -> {self.decision} ({self.run_id})"


class BackfillCheckpoint(models.Model):
    """Where a resumable backfill command got to (so a restart continues, not repeats)."""

    name = models.CharField(max_length=128, unique=True)
    state = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Erasure(models.Model):
    """Audit of one erasure request: who, when, why and what. Holds no personal data: the
    person is described only by row ids and counts (see docs/privacy.md)."""

    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    operator = models.CharField(max_length=150, blank=True)  # who ran the command
    matched_by = models.CharField(max_length=64)  # "username", "email,visitor_id" ...
    reason = models.TextField()
    # Erased row ids and counts by table: {"accounts.User": {"ids": [...], "rows": n}, ...}.
    tables = models.JSONField(default=dict, blank=True)
    # One entry per device: {"device": id, "outcome": "deleted" | "not_found" |
    # "feature_not_enabled" | "failed" | "kept_blocked" | "pending", "code": "..."}.
    fingerprint = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="erasure_created_idx")]

    def __str__(self) -> str:
        return f"erasure #{self.pk} by {self.matched_by} at {self.created_at:%Y-%m-%d %H:%M}"


class AllowlistKind(models.TextChoices):
    NETWORK = "network", "IP range (CIDR)"
    ASN = "asn", "Network (ASN)"
    EMAIL_DOMAIN = "email_domain", "Email domain"
    DEVICE = "device", "Device (visitor id)"


class AllowlistEntry(models.Model):
    """A QA lab, a partner's office or a kiosk fleet: signups that match skip the volume and
    device-limit rules only (never bots, tampering, emulators, replays or the server-side
    checks; risk/rules.py says which rules an entry lifts)."""

    kind = models.CharField(max_length=16, choices=AllowlistKind.choices)
    # "203.0.113.0/24", "AS64500" or "64500", "example.com", a visitor id: normalised on save.
    value = models.CharField(max_length=255)
    note = models.CharField(max_length=255, help_text="Who this is for, and why")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: until someone removes it"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name_plural = "allowlist entries"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="allowlist_kind_value_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class AllowlistChange(models.Model):
    """Audit of the allowlist: every entry added, changed or removed, by whom."""

    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    action = models.CharField(max_length=16)  # added | changed | removed
    entry_id = models.BigIntegerField()  # kept after the entry is removed
    kind = models.CharField(max_length=16, choices=AllowlistKind.choices)
    value = models.CharField(max_length=255)
    note = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="allowlist_change_created_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.value}"


class ThresholdSetting(models.Model):
    """A rule threshold changed without a restart (the backtest page, or the admin): it
    overrides the Django setting of the same name, which stays the default. Validated like the
    settings table (risk.conf)."""

    name = models.CharField(max_length=64, unique=True)  # e.g. RISK_SUSPECT_SCORE_REVIEW
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class ThresholdChange(models.Model):
    """Audit of threshold changes: one row per applied or reverted set, with what it replaced
    (so that it can be reverted exactly) and the backtest that justified it."""

    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    action = models.CharField(max_length=16)  # applied | reverted
    # {setting name: value}; `previous` holds None for a name that had no override.
    values = models.JSONField(default=dict)
    previous = models.JSONField(default=dict)
    note = models.TextField(blank=True)
    backtest = models.JSONField(default=dict, blank=True)  # the summary the reviewer saw
    reverts = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reverted_by"
    )

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="threshold_change_created_idx")]
        permissions = [("run_backtest", "Can backtest and apply rule thresholds")]

    def __str__(self) -> str:
        return f"{self.action} {sorted(self.values)} at {self.created_at:%Y-%m-%d %H:%M}"
