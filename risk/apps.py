from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class RiskConfig(AppConfig):
    default = True
    name = "risk"
    verbose_name = "Signup risk review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from risk import checks  # noqa: F401  (registers the system checks)
        from risk.conf import in_force_install
        from risk.observability import install
        from risk.services.notifications import notify_review_decided
        from risk.signals import review_decided
        from risk.thresholds import settings_in_force

        install()
        # Rule thresholds changed at runtime apply from here on (they live in the database).
        in_force_install(settings_in_force)
        review_decided.connect(notify_review_decided, dispatch_uid="risk.notify_review_decided")


class ReviewAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the review console's site (risk/admin_site.py) as
    `admin.site`: listed in INSTALLED_APPS instead of "django.contrib.admin"."""

    default = False  # "risk" itself is RiskConfig
    default_site = "risk.admin_site.ReviewAdminSite"
