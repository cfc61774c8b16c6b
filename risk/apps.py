from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "Signup risk review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from risk import checks  # noqa: F401  (registers the system checks)
        from risk.notifications import notify_review_decided
        from risk.signals import review_decided

        review_decided.connect(notify_review_decided, dispatch_uid="risk.notify_review_decided")
