"""Devices, event snapshots, signup attempts and the reviewers' audit log.

Locking policy (see docs/architecture.md): a signup locks its Device row with
`select_for_update()` for the few milliseconds it takes to count the device's accounts and
write the attempt; unique constraints (Device.visitor_id, FingerprintEvent.event_id,
SignupAttempt.claimed_event_id) are the last line of defence against races.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Decision(models.TextChoices):
    ALLOW = "allow", "Allow"
    REVIEW = "review", "Review"
    DENY = "deny", "Deny"


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

    class Meta:
        indexes = [
            models.Index(fields=["-account_count"], name="device_accounts_idx"),
            models.Index(fields=["-attempt_count"], name="device_attempts_idx"),
        ]

    def __str__(self) -> str:
        return self.visitor_id


class FingerprintEvent(models.Model):
    """The raw event JSON, untouched, plus the fields we filter and sort on."""

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
    raw = models.JSONField()  # jsonb on PostgreSQL
    fetched_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event_id


class SignupAttempt(models.Model):
    """Every signup attempt, whatever its outcome. Never holds a password."""

    created_at = models.DateTimeField(auto_now_add=True)
    username = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
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
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reasons = models.JSONField(default=list, blank=True)  # reason codes, see risk/rules.py
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
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.username} ({self.decision})"


class ReviewAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    BLOCK_DEVICE = "block_device", "Block device"
    TRUST_DEVICE = "trust_device", "Trust device"


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

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="decision_created_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"
