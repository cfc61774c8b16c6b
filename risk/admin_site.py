"""The dedicated review site: an opt-in AdminSite whose index is the review dashboard, with a
full-width layout. A project opts in by listing "risk.apps.ReviewAdminConfig" in
INSTALLED_APPS instead of "django.contrib.admin" (the reference project does): `admin.site`
and every URL under /admin/ stay as they were. Without it, the console's pages are on the
project's own admin site, and the dashboard is a page of its own (docs/review-console.md).

With REVIEW_REQUIRE_OTP, the dedicated site's login asks for the TOTP code (django-otp); on a
project's own site, risk's admin pages refuse staff who have not passed it (risk.admin.base).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from risk import selectors
from risk.conf import risk_settings


class ReviewAdminSite(admin.AdminSite):
    index_template = "risk/review/dashboard.html"
    # The queue and evidence pages need the width more than a list of models does.
    enable_nav_sidebar = False

    @property
    def login_form(self):
        if not risk_settings().require_otp:
            return None
        from django_otp.admin import OTPAdminAuthenticationForm  # the `otp` extra

        return OTPAdminAuthenticationForm

    @property
    def login_template(self):
        return "otp/admin111/login.html" if risk_settings().require_otp else None

    def has_permission(self, request):
        """With REVIEW_REQUIRE_OTP, staff must also have passed a TOTP check this session."""
        if not super().has_permission(request):
            return False
        return otp_satisfied(request)

    def index(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if request.user.has_perm("risk.view_signupattempt"):
            extra["dashboard"] = selectors.stats_dashboard()
            extra["queue_url"] = reverse("admin:risk_signupattempt_changelist")
        return super().index(request, extra_context=extra)


def otp_satisfied(request) -> bool:
    """The staff member passed a TOTP check this session, or none is required."""
    if not risk_settings().require_otp:
        return True
    is_verified = getattr(request.user, "is_verified", None)  # django-otp's middleware sets it
    return bool(is_verified and is_verified())
