"""Raw Fingerprint event snapshots: read-only evidence, looked up by exact id."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from risk.admin import filters
from risk.admin.base import EvidenceAdmin
from risk.models import FingerprintEvent


@admin.register(FingerprintEvent)
class FingerprintEventAdmin(EvidenceAdmin):
    list_display = ("event_id", "visitor_id", "timestamp", "ip", "bot", "suspect_score", "platform")
    list_filter = (filters.DevicePlatformFilter, filters.EventBotFilter)
    ordering = ("-id",)
    search_fields = ("event_id",)
    search_help_text = "Exact event id or visitor id."
    readonly_fields = ("raw_json",)
    exclude = ("raw",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(event_id=term) | queryset.filter(visitor_id=term), False

    @admin.display(description="Raw event")
    def raw_json(self, obj):
        return format_html(
            '<pre class="rv-json">{}</pre>', json.dumps(obj.raw, indent=2, sort_keys=True)
        )
