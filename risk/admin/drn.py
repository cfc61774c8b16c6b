"""DRN lookups and rescoring results: evidence, read-only."""

from __future__ import annotations

from django.contrib import admin

from risk.admin.base import EvidenceAdmin
from risk.models import DrnSnapshot, Reassessment


@admin.register(DrnSnapshot)
class DrnSnapshotAdmin(EvidenceAdmin):
    list_display = ("visitor_id", "status", "fetched_at", "max_percentile", "max_suspect_score")
    list_filter = ("status",)
    ordering = ("-fetched_at",)
    search_fields = ("visitor_id",)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(visitor_id=term) if term else queryset), False


@admin.register(Reassessment)
class ReassessmentAdmin(EvidenceAdmin):
    list_display = ("attempt", "run_id", "previous_decision", "decision", "created_at")
    list_filter = ("decision",)
    list_select_related = ("attempt",)
    ordering = ("-created_at",)
