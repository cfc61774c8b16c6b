from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "Signup risk review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from risk import (
            checks,  # noqa: F401  (registers the system checks)
            throttles,  # noqa: F401  (registers the throttle rate check)
        )
        from risk.observability import install

        install()
