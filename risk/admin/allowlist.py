"""The allowlist in the console: entries edited by staff with the model's permissions, every
edit audited (AllowlistChange, read-only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone

from risk.admin.base import EvidenceAdmin
from risk.admin_site import otp_satisfied
from risk.models import AllowlistChange, AllowlistEntry
from risk.services.allowlist import (
    allowlist_entry_delete,
    allowlist_entry_save,
    entry_value_normalise,
)


class AllowlistEntryForm(forms.ModelForm):
    class Meta:
        model = AllowlistEntry
        fields = ("kind", "value", "note", "expires_at")
        help_texts = {
            "value": "An IP range (203.0.113.0/24, or one address), an AS number (AS64500), an "
            "email domain (example.com: its subdomains too) or a visitor id.",
        }

    def clean(self):
        cleaned = super().clean()
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if kind and value:
            try:
                cleaned["value"] = entry_value_normalise(kind, value)
            except ValueError as exc:
                self.add_error("value", str(exc))
        expires = cleaned.get("expires_at")
        if expires is not None and expires <= timezone.now():
            self.add_error("expires_at", "Pick a time in the future, or leave it empty.")
        return cleaned

    def validate_unique(self):
        self.instance.value = self.cleaned_data.get("value", self.instance.value)
        super().validate_unique()


@admin.register(AllowlistEntry)
class AllowlistEntryAdmin(admin.ModelAdmin):
    form = AllowlistEntryForm
    list_display = ("kind", "value", "note", "expires_at", "live", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("value", "note")
    ordering = ("kind", "value")

    def has_view_permission(self, request, obj=None):
        return otp_satisfied(request) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return otp_satisfied(request) and super().has_module_permission(request)

    @admin.display(boolean=True, description="Live")
    def live(self, obj):
        return obj.expires_at is None or obj.expires_at > timezone.now()

    def save_model(self, request, obj, form, change):
        allowlist_entry_save(entry=obj, actor=request.user, adding=not change)

    def delete_model(self, request, obj):
        allowlist_entry_delete(entry=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            allowlist_entry_delete(entry=entry, actor=request.user)


@admin.register(AllowlistChange)
class AllowlistChangeAdmin(EvidenceAdmin):
    list_display = ("created_at", "actor", "action", "kind", "value", "note", "expires_at")
    list_filter = ("action", "kind")
    search_fields = ("value", "note")
    ordering = ("-created_at",)
