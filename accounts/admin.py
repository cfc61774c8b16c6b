from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User
from risk.admin.pagination import CappedCountPaginator


@admin.register(User)
class AccountAdmin(UserAdmin):
    # Millions of accounts: never COUNT(*) the table (see docs/review-console.md).
    paginator = CappedCountPaginator
    show_full_result_count = False
