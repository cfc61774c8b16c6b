"""Streaming CSV exports of the queue selection and of the audit log: rows are written as the
database cursor yields them, so an export of a million rows holds one chunk in memory."""

from __future__ import annotations

import csv

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone

CHUNK = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """csv.writer wants a file; this one hands each line straight back."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    # A spreadsheet would run "=HYPERLINK(...)" typed into a username: quote it as text.
    return "'" + text if text.startswith(FORMULA_START) else text


def stream_csv(*, filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


QUEUE_COLUMNS = {
    "id": "pk",
    "created_at": "created_at",
    "username": "username",
    "email": "email",
    "decision": "decision",
    "reasons": "reasons",
    "review_status": "review_status",
    "claimed_by": "claimed_by__{username}",
    "country": "fingerprint_event__country_code",
    "network": "fingerprint_event__asn_name",
    "visitor_id": "visitor_id",
    "client_ip": "client_ip",
    "bot": "fingerprint_event__bot",
    "suspect_score": "fingerprint_event__suspect_score",
    "event_id": "event_id",
}


def _columns(columns: dict[str, str]) -> list[str]:
    """The lookups, with a staff member named by the user model's own username field."""
    username = get_user_model().USERNAME_FIELD
    return [lookup.format(username=username) for lookup in columns.values()]


def queue_csv(model_admin, request):
    """The rows the queue shows for the same query string (filters, search, order)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    query = request.GET.copy()
    query.pop("_changelist_filters", None)
    queryset, _ = model_admin.queue_selection(request, query.urlencode())
    rows = queryset.values_list(*_columns(QUEUE_COLUMNS)).iterator(chunk_size=CHUNK)
    return stream_csv(filename="review-queue", header=list(QUEUE_COLUMNS), rows=rows)


AUDIT_COLUMNS = {
    "id": "pk",
    "created_at": "created_at",
    "reviewer": "actor__{username}",
    "action": "action",
    "reason": "reason",
    "note": "note",
    "attempt": "attempt_id",
    "username": "attempt__username",
    "device": "device__visitor_id",
    "part_of": "parent_id",
}


def audit_csv(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    queryset = model_admin.selection(request)
    rows = queryset.values_list(*_columns(AUDIT_COLUMNS)).iterator(chunk_size=CHUNK)
    return stream_csv(filename="review-audit", header=list(AUDIT_COLUMNS), rows=rows)


class CsvExportMixin:
    """A ModelAdmin whose change list links `export.csv`: `export_view(model_admin, request)`
    streams the rows of the current selection."""

    export_view = None  # staticmethod(queue_csv) or staticmethod(audit_csv)

    def _export_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_export"

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "export_url": reverse(f"admin:{self._export_name()}")}
        return super().changelist_view(request, extra_context=extra)

    def get_urls(self):
        view = self.admin_site.admin_view(lambda request: self.export_view(self, request))
        return [path("export.csv", view, name=self._export_name()), *super().get_urls()]
