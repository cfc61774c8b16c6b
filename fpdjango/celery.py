"""The Celery app: `celery -A fpdjango worker` (and `beat` for the periodic tasks).

Configured from Django's settings (`CELERY_*`, broker = REDIS_URL). With no broker configured
every task runs inline in the caller (CELERY_TASK_ALWAYS_EAGER), so nothing needs a worker.
"""

import os
import sys

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")

app = Celery("fpdjango")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_unsafe_production(**kwargs) -> None:
    """The same refusal as fpdjango/wsgi.py (risk/checks.py), for workers. Celery logs an
    exception from a signal receiver and carries on, so the refusal exits instead."""
    from django.core.exceptions import ImproperlyConfigured

    from risk.checks import refuse_unsafe_production as refuse

    try:
        refuse()
    except ImproperlyConfigured as exc:
        print(exc, file=sys.stderr, flush=True)
        raise SystemExit(1) from exc
