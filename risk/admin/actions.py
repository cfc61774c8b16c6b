"""Bulk decisions from the queue: parse the action bar, call the review service."""

from __future__ import annotations

from django.contrib import admin, messages

from risk.models import ReviewAction
from risk.services.review import ReviewError, review_decide_bulk

MAX_BULK = 500  # one click must not lock thousands of rows; narrow the filter instead


def _bulk(modeladmin, request, queryset, action: str) -> None:
    reason = request.POST.get("reason", "")
    note = request.POST.get("note", "")
    attempts = list(queryset.order_by("-created_at")[: MAX_BULK + 1])
    if len(attempts) > MAX_BULK:
        modeladmin.message_user(
            request,
            f"At most {MAX_BULK} attempts per bulk decision: narrow the selection.",
            messages.ERROR,
        )
        return
    try:
        decided, errors = review_decide_bulk(
            actor=request.user, action=action, reason=reason, note=note, attempts=attempts
        )
    except ReviewError as exc:
        modeladmin.message_user(request, f"{exc.message} [{exc.code}]", messages.ERROR)
        return
    label = ReviewAction(action).label.lower()
    modeladmin.message_user(request, f"{label}: {decided} attempt(s) decided.", messages.SUCCESS)
    for code, count in errors.items():
        modeladmin.message_user(request, f"{count} skipped [{code}].", messages.WARNING)


@admin.action(description="Approve selected (activate accounts)", permissions=["record_decision"])
def approve_attempts(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, ReviewAction.APPROVE)


@admin.action(description="Reject selected (deactivate accounts)", permissions=["record_decision"])
def reject_attempts(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, ReviewAction.REJECT)


@admin.action(description="Block the devices of selected", permissions=["record_decision"])
def block_devices(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, ReviewAction.BLOCK_DEVICE)


@admin.action(description="Trust the devices of selected", permissions=["record_decision"])
def trust_devices(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, ReviewAction.TRUST_DEVICE)


REVIEW_ACTIONS = [approve_attempts, reject_attempts, block_devices, trust_devices]
