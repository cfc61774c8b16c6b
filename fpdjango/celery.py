"""The Celery app: `celery -A fpdjango worker` (and `beat` for the periodic tasks).

Configured from Django's settings (`CELERY_*`, broker = REDIS_URL). With no broker configured
every task runs inline in the caller (CELERY_TASK_ALWAYS_EAGER), so nothing needs a worker.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")

app = Celery("fpdjango")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_unsafe_production(**kwargs) -> None:
    """The same refusal as fpdjango/wsgi.py (risk/checks.py), for workers."""
    from risk.checks import refuse_unsafe_production as refuse

    refuse()
