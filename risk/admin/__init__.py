"""The review console in /admin: one module per ModelAdmin (see docs/review-console.md)."""

from django.contrib import admin

from risk.admin import attempts, decisions, devices, drn, events, privacy  # noqa: F401
from risk.admin.views import install_dashboard

install_dashboard(admin.site)
# The queue and evidence pages need the width more than a list of models does.
admin.site.enable_nav_sidebar = False
