"""The reviewers' audit log: append-only, so read-only in the admin for everyone."""

from __future__ import annotations

from django.contrib import admin

from risk.admin.base import EvidenceAdmin
from risk.models import ReviewDecision


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(EvidenceAdmin):
    list_display = ("created_at", "actor", "action", "reason", "attempt", "device", "note")
    list_filter = ("action",)
    list_select_related = ("actor", "attempt", "device")
    ordering = ("-created_at",)
