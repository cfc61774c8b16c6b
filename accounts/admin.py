from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User
from risk.admin.pagination import CappedCountPaginator


@admin.register(User)
class AccountAdmin(UserAdmin):
    list_display = ("username", "email", "is_active", "is_staff", "date_joined", "device")
    list_select_related = ("device",)
    raw_id_fields = ("device",)
    fieldsets = (*UserAdmin.fieldsets, ("Signup", {"fields": ("device", "signup_event_id")}))
    readonly_fields = ("signup_event_id",)
    # Millions of accounts: never COUNT(*) the table (see docs/review-console.md).
    paginator = CappedCountPaginator
    show_full_result_count = False
