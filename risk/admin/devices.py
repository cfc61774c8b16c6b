"""Devices: the cluster ranking (changelist, largest first) and the cluster page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.utils.html import format_html

from risk.admin import filters, views
from risk.admin.base import EvidenceAdmin
from risk.models import Device


@admin.register(Device)
class DeviceAdmin(EvidenceAdmin):
    list_display = (
        "visitor_id",
        "platform",
        "status_pill",
        "account_count",
        "attempt_count",
        "first_seen_at",
        "last_seen_at",
    )
    list_filter = (filters.DeviceStatusFilter, filters.DevicePlatformFilter)
    # The ranking of clusters: device_accounts_idx / device_attempts_idx serve both orders.
    # Farms are denied after their first account, so attempts rank them best by default.
    ordering = ("-attempt_count",)
    sortable_by = ("account_count", "attempt_count", "first_seen_at", "last_seen_at")
    search_fields = ("visitor_id",)
    search_help_text = "Exact visitor id."
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(visitor_id=term) if term else queryset), False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/decide/",
                wrap(lambda request, object_id: views.device_decide(self, request, object_id)),
                name="risk_device_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return views.device_cluster_page(self, request, object_id)

    @admin.display(description="Status", ordering="status")
    def status_pill(self, obj):
        return format_html('<span class="rv-pill rv-dev-{}">{}</span>', obj.status, obj.status)
