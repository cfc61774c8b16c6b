"""The review console's AdminSite: the dashboard on the index, and a full-width layout. Made
the default site by `risk.apps.ReviewAdminConfig` (in INSTALLED_APPS instead of
"django.contrib.admin"), so `admin.site` and every URL under /admin/ stay as they were."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from risk import selectors


class ReviewAdminSite(admin.AdminSite):
    index_template = "risk/review/dashboard.html"
    # The queue and evidence pages need the width more than a list of models does.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if request.user.has_perm("risk.view_signupattempt"):
            extra["dashboard"] = selectors.stats_dashboard()
            extra["queue_url"] = reverse("admin:risk_signupattempt_changelist")
        return super().index(request, extra_context=extra)
