"""Suspect feedback to Fingerprint: one row per event (what the reviewers' decisions want it to
believe, what it has from us) and the append-only log of every request. Read-only, like the
audit log it follows from."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from risk.admin.base import EvidenceAdmin, pk_parse
from risk.models import ReviewDecision, SuspectReport, SuspectReportLog


def _decision_link(decision_id):
    if not decision_id:
        return "\u2013"
    url = reverse("admin:risk_reviewdecision_change", args=[decision_id])
    return format_html('<a href="{}">decision #{}</a>', url, decision_id)


class SuspectReportLogInline(admin.TabularInline):
    model = SuspectReportLog
    fields = ("created_at", "suspect", "outcome", "http_status", "code", "message", "decision")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _FeedbackAdmin(EvidenceAdmin):
    """Both feedback lists: searched by exact event id, or `#123` for what reviewer decision
    123 asked for, and linked to that decision."""

    event_id_lookup = "event_id"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().replace("\x00", "")
        if not term:
            return queryset, False
        decision_id = pk_parse(ReviewDecision, term.lstrip("#")) if term.startswith("#") else None
        if decision_id is not None:
            return queryset.filter(decision_id=decision_id), False
        return queryset.filter(**{self.event_id_lookup: term}), False

    @admin.display(description="because of")
    def cause(self, obj):
        return _decision_link(obj.decision_id)


@admin.register(SuspectReport)
class SuspectReportAdmin(_FeedbackAdmin):
    list_display = (
        "updated_at",
        "event",
        "wanted",
        "reported",
        "status",
        "cause",
        "last_error",
    )
    list_filter = ("status", "wanted")
    list_select_related = ("event", "decision")
    ordering = ("-updated_at", "-pk")
    search_fields = ("event__event_id",)  # shows the box; get_search_results says what it matches
    event_id_lookup = "event__event_id"
    search_help_text = "Exact event id, or #123 for the reports of decision 123."
    fields = (
        "event",
        "wanted",
        "reported",
        "status",
        "decision",
        "last_error",
        "created_at",
        "updated_at",
        "reported_at",
    )
    readonly_fields = fields
    inlines = (SuspectReportLogInline,)

    def get_queryset(self, request):
        # The event is shown by its id: never load its raw JSON for a list.
        return super().get_queryset(request).defer("event__raw", "event__text_replaced")


@admin.register(SuspectReportLog)
class SuspectReportLogAdmin(_FeedbackAdmin):
    """The audit trail of the feedback: what was sent when, and Fingerprint's answer."""

    list_display = (
        "created_at",
        "event_id",
        "suspect",
        "outcome",
        "http_status",
        "code",
        "message",
        "cause",
    )
    list_filter = ("outcome", "suspect")
    ordering = ("-created_at", "-pk")
    search_fields = ("event_id",)
    search_help_text = "Exact event id, or #123 for the requests decision 123 asked for."
