"""Runtime threshold overrides (ThresholdSetting) in the admin: for staff with
`risk.run_backtest`, validated like the settings table, and every add, change or removal
written through risk.services.thresholds with its audit row (ThresholdChange)."""

from __future__ import annotations

from django.contrib import admin, messages

from risk.admin.forms import ThresholdSettingForm, threshold_shown
from risk.admin_site import otp_satisfied
from risk.models import ThresholdSetting
from risk.services.thresholds import (
    BACKTEST_PERMISSION,
    ThresholdError,
    django_thresholds,
    thresholds_apply,
)
from risk.thresholds import BY_NAME


def may_change_thresholds(request) -> bool:
    return otp_satisfied(request) and request.user.has_perm(BACKTEST_PERMISSION)


@admin.register(ThresholdSetting)
class ThresholdSettingAdmin(admin.ModelAdmin):
    form = ThresholdSettingForm
    list_display = ("name", "override", "django_setting", "updated_at")
    ordering = ("name",)
    fields = ("name", "value", "note")

    # One permission says who may change the thresholds, here as on the backtest page.
    def has_module_permission(self, request):
        return may_change_thresholds(request)

    def has_view_permission(self, request, obj=None):
        return may_change_thresholds(request)

    def has_add_permission(self, request):
        return may_change_thresholds(request)

    def has_change_permission(self, request, obj=None):
        return may_change_thresholds(request)

    def has_delete_permission(self, request, obj=None):
        return may_change_thresholds(request)

    @admin.display(description="Value in force")
    def override(self, obj):
        return threshold_shown(obj.value)

    @admin.display(description="Django setting (the default)")
    def django_setting(self, obj):
        setting = BY_NAME.get(obj.name)
        if setting is None:
            return "not a threshold (ignored)"
        return threshold_shown(getattr(django_thresholds(), setting.field))

    def save_model(self, request, obj, form, change):
        note = form.cleaned_data.get("note") or "changed in the admin"
        self._apply(request, {obj.name: form.cleaned_data["value"]}, note)
        saved = ThresholdSetting.objects.filter(name=obj.name).first()
        if saved is not None:  # the admin's message and redirect name the row
            obj.pk, obj.updated_at = saved.pk, saved.updated_at

    def delete_model(self, request, obj):
        self._apply(request, {obj.name: None}, "override removed in the admin")

    def delete_queryset(self, request, queryset):
        names = list(queryset.values_list("name", flat=True))
        self._apply(request, dict.fromkeys(names), "overrides removed in the admin")

    def _apply(self, request, values: dict, note: str) -> None:
        try:
            thresholds_apply(actor=request.user, values=values, note=note)
        except ThresholdError as exc:
            if exc.code != "no_change":
                problems = "; ".join(f"{n}: {p}" for n, p in exc.problems.items())
                messages.error(request, f"{exc.message} {problems} [{exc.code}]".strip())
