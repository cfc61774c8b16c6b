"""The reviewers' audit log: append-only, so read-only in the admin for everyone. Filters by
reviewer, action and date; searches reason codes, usernames, attempt ids and notes; exports
the current selection as CSV."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q

from risk.admin import exports, filters
from risk.admin.base import EvidenceAdmin, pk_parse
from risk.models import ReviewDecision


class ReviewerFilter(admin.SimpleListFilter):
    """Staff accounts only (a short list), never a DISTINCT over the audit log."""

    title = "reviewer"
    parameter_name = "reviewer"

    def lookups(self, request, model_admin):
        user_model = get_user_model()
        staff = user_model.objects.filter(is_staff=True).order_by(user_model.USERNAME_FIELD)
        return [(str(user.pk), user.get_username()) for user in staff[:200]]

    def queryset(self, request, queryset):
        pk = pk_parse(get_user_model(), self.value()) if self.value() else None
        return queryset.filter(actor_id=pk) if pk is not None else queryset


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(exports.CsvExportMixin, EvidenceAdmin):
    export_view = staticmethod(exports.audit_csv)
    list_display = ("created_at", "actor", "action", "reason", "attempt", "device", "note")
    list_filter = (ReviewerFilter, "action", filters.DateRangeFilter)
    list_select_related = ("actor", "attempt", "device")
    ordering = ("-created_at", "-pk")
    search_fields = ("reason",)  # shows the box; get_search_results says what it matches
    search_help_text = "Reason code, reviewer, attempt username, #attempt id, or words in the note."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        term = term.replace("\x00", "")  # no database stores it; PostgreSQL refuses to compare
        number = term.lstrip("#")
        if number.isascii() and number.isdigit():
            return queryset.filter(attempt_id=int(number)), False
        username = f"actor__{get_user_model().USERNAME_FIELD}"
        q = Q(reason=term) | Q(**{username: term}) | Q(attempt__username=term)
        q |= Q(note__icontains=term)
        return queryset.filter(q), False
