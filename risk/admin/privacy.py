"""Erasure from the console (superusers only, after a confirmation page that lists every row
it would change) and the read-only erasure audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from risk.admin.base import EvidenceAdmin
from risk.models import Erasure, SignupAttempt
from risk.services import privacy
from risk.services.jobs import Tally, item_guard

MAX_ERASE = 50  # one click, one person or a few: not a bulk purge


class ErasureForm(forms.Form):
    # Not "reason": the queue's action bar, which Django validates first, has a field of that
    # name (a reviewer's reason code).
    erasure_reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Why: the request or the ticket. This text is kept in the erasure audit log: "
        "do not write the person's name, email or any other detail of theirs.",
    )
    include_staff = forms.BooleanField(
        required=False, label="Erase staff and superuser accounts among them too"
    )


@admin.action(
    description="Erase the people behind selected (superusers; lists every row first)",
    permissions=["erase"],
)
def erase_people(modeladmin, request, queryset):
    """The people behind the selected attempts: the account each created, and the attempts
    that created none (never whoever their typed values would name). The first POST shows
    every row the erasure would change; the confirming POST erases."""
    ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_ERASE + 1])
    if len(ids) > MAX_ERASE:
        modeladmin.message_user(
            request, f"At most {MAX_ERASE} attempts per erasure.", messages.ERROR
        )
        return None
    confirming = request.POST.get("confirm") == "yes"
    form = ErasureForm(request.POST if confirming else None)
    include_staff = confirming and form.is_valid() and form.cleaned_data["include_staff"]
    subject = privacy.person_of_attempts(attempt_ids=ids, include_staff=include_staff)
    if not (confirming and form.is_valid()):
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": "Erase the people behind the selected attempts",
            "opts": modeladmin.model._meta,
            "form": form,
            "plan": privacy.person_plan(subject=subject),
            "staff_skipped": subject.staff_skipped,
            "selected": ids,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "risk/review/erase_confirm.html", context)
    if subject.is_empty():
        modeladmin.message_user(
            request, "Nothing left to erase [already_erased].", messages.WARNING
        )
        return None
    tally = Tally()
    for person in _people(ids):
        subject = privacy.person_of_attempts(attempt_ids=person, include_staff=include_staff)
        if subject.is_empty():
            continue
        with item_guard(tally, what="erasing the person behind attempts", item=person):
            privacy.person_erase(
                subject=subject,
                reason=form.cleaned_data["erasure_reason"],
                matched_by="admin:attempts",
                actor=request.user,
                operator=request.user.get_username(),
            )
            tally.add("erased")
    counts = tally.as_dict()
    modeladmin.message_user(
        request, f"Erased {counts.get('erased', 0)} person(s).", messages.SUCCESS
    )
    if counts.get("failed"):
        modeladmin.message_user(
            request,
            f"{counts['failed']} person(s) could not be erased (logged); the others were.",
            messages.ERROR,
        )
    return None


def _people(attempt_ids: list[int]) -> list[list[int]]:
    """The selected attempts, one list per person: attempts that share an account or a device
    are taken as one person's (the reviewer selected them together), the others alone. Each
    person is erased in a transaction of their own."""
    owner: dict[int, int] = {}  # attempt -> the first attempt of its group

    def root(pk: int) -> int:
        while owner[pk] != pk:
            pk = owner[pk]
        return pk

    seen: dict[tuple, int] = {}
    rows = SignupAttempt.objects.filter(pk__in=attempt_ids).values_list(
        "pk", "account_id", "device_id"
    )
    for pk, account, device in rows.order_by("pk"):
        owner[pk] = pk
        for key in (("account", account), ("device", device)):
            if key[1] is None:
                continue
            if key in seen:
                owner[root(pk)] = root(seen[key])
            else:
                seen[key] = pk
    people: dict[int, list[int]] = {}
    for pk in owner:
        people.setdefault(root(pk), []).append(pk)
    return list(people.values())


@admin.register(Erasure)
class ErasureAdmin(EvidenceAdmin):
    list_display = ("created_at", "matched_by", "actor", "operator", "reason", "fingerprint")
    list_select_related = ("actor",)
    ordering = ("-created_at",)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self.has_view_permission(request)
