"""The review console's AdminSite: the dashboard on the index, and a full-width layout. Made
the default site by `risk.apps.ReviewAdminConfig` (in INSTALLED_APPS instead of
"django.contrib.admin"), so `admin.site` and every URL under /admin/ stay as they were."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django_otp.admin import OTPAdminAuthenticationForm

from risk import selectors
from risk.conf import risk_settings


class ReviewAdminSite(admin.AdminSite):
    index_template = "risk/review/dashboard.html"
    # The queue and evidence pages need the width more than a list of models does.
    enable_nav_sidebar = False

    @property
    def login_form(self):
        return OTPAdminAuthenticationForm if _otp_required() else None

    @property
    def login_template(self):
        return "otp/admin111/login.html" if _otp_required() else None

    def has_permission(self, request):
        """With REVIEW_REQUIRE_OTP, staff must also have passed a TOTP check this session."""
        if not super().has_permission(request):
            return False
        return not _otp_required() or request.user.is_verified()

    def index(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if request.user.has_perm("risk.view_signupattempt"):
            extra["dashboard"] = selectors.stats_dashboard()
            extra["queue_url"] = reverse("admin:risk_signupattempt_changelist")
        return super().index(request, extra_context=extra)


def _otp_required() -> bool:
    return risk_settings().require_otp
