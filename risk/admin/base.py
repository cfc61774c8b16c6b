"""Shared admin behaviour: evidence is read-only for everyone, superusers included."""

from __future__ import annotations

import copy

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters, ShowFacets
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404

from risk.admin.pagination import CappedCountPaginator
from risk.admin_site import otp_satisfied
from risk.services.review import RECORD_PERMISSION


def pk_parse(model: type[Model], value: str):
    """`value` as the model's primary key, or None when it is not one ("abc", "²", "1\x00"):
    such input is a 404 or no filter, never a 500."""
    try:
        return model._meta.pk.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return None


def object_or_404(queryset: QuerySet | type[Model], object_id: str):
    model = queryset if isinstance(queryset, type) else queryset.model
    pk = pk_parse(model, object_id)
    if pk is None:
        raise Http404("No such object.")
    return get_object_or_404(queryset, pk=pk)


class EvidenceAdmin(admin.ModelAdmin):
    """Nobody adds, edits or deletes evidence in the admin (events, snapshots, attempts,
    audit rows). Lists never run an unbounded COUNT(*) and never compute facet counts."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_max_show_all = 200

    def has_view_permission(self, request, obj=None):
        return otp_satisfied(request) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return otp_satisfied(request) and super().has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_record_decision_permission(self, request) -> bool:
        return request.user.has_perm(RECORD_PERMISSION)

    def get_changelist(self, request, **kwargs):
        if getattr(request, "rv_selection_only", False):
            return SelectionChangeList
        return super().get_changelist(request, **kwargs)

    def selection(self, request, query_string: str | None = None) -> QuerySet:
        """The rows the list shows for a query string (filters, search, order; default: the
        request's own), without running the list's count and page queries. A query string
        the list would refuse gives the unfiltered list."""
        selection = copy.copy(request)
        if query_string is not None:
            selection.GET = QueryDict(query_string)
        selection.rv_selection_only = True
        try:
            changelist = self.get_changelist_instance(selection)
        except IncorrectLookupParameters:
            selection.GET = QueryDict("")
            changelist = self.get_changelist_instance(selection)
        return changelist.queryset


class SelectionChangeList(ChangeList):
    """A changelist that only builds its queryset."""

    def get_results(self, request):
        self.result_count = self.full_result_count = 0
        self.result_list = []
        self.can_show_all = self.multi_page = False
