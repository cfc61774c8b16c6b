"""Shared admin behaviour: evidence is read-only for everyone, superusers included."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import ShowFacets

from risk.admin.pagination import CappedCountPaginator
from risk.services.review import RECORD_PERMISSION


class EvidenceAdmin(admin.ModelAdmin):
    """Nobody adds, edits or deletes evidence in the admin (events, snapshots, attempts,
    audit rows). Lists never run an unbounded COUNT(*) and never compute facet counts."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_max_show_all = 200

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_record_decision_permission(self, request) -> bool:
        return request.user.has_perm(RECORD_PERMISSION)
