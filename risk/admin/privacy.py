"""Erasure from the admin (superusers only) and the read-only erasure audit log."""

from __future__ import annotations

from django.contrib import admin, messages

from risk.admin.base import EvidenceAdmin
from risk.models import Erasure
from risk.services import privacy
from risk.services.jobs import BackfillError

MAX_ERASE = 50  # one click, one person or a few: not a bulk purge


@admin.action(
    description="Erase the people behind selected (superusers; write why in the note)",
    permissions=["erase"],
)
def erase_people(modeladmin, request, queryset):
    """The person behind each attempt is named by its username and email, as with
    `manage.py erase_person --username ... --email ...`."""
    reason = request.POST.get("note", "").strip()
    if not reason:
        modeladmin.message_user(
            request, "Write why (the request or ticket) in the note field.", messages.ERROR
        )
        return
    attempts = list(queryset.order_by("pk")[: MAX_ERASE + 1])
    if len(attempts) > MAX_ERASE:
        modeladmin.message_user(
            request, f"At most {MAX_ERASE} attempts per erasure.", messages.ERROR
        )
        return
    erased = skipped = 0
    for attempt in attempts:
        try:
            subject = privacy.person_find(username=attempt.username, email=attempt.email)
        except BackfillError:
            skipped += 1  # already erased: nothing names the person any more
            continue
        if subject.is_empty():  # erased a moment ago, through another selected attempt
            skipped += 1
            continue
        privacy.person_erase(
            subject=subject,
            reason=reason,
            matched_by="admin:attempt",
            actor=request.user,
            operator=request.user.get_username(),
        )
        erased += 1
    modeladmin.message_user(request, f"{erased} person(s) erased.", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request, f"{skipped} attempt(s) skipped [already_erased].", messages.WARNING
        )


@admin.register(Erasure)
class ErasureAdmin(EvidenceAdmin):
    list_display = ("created_at", "matched_by", "actor", "operator", "reason", "fingerprint")
    list_select_related = ("actor",)
    ordering = ("-created_at",)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self.has_view_permission(request)
