"""The Celery app: `celery -A fpdjango worker` (and `beat` for the periodic tasks).

Configured from Django's settings (`CELERY_*`, broker = REDIS_URL). With no broker configured
every task runs inline in the caller (CELERY_TASK_ALWAYS_EAGER), so nothing needs a worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")

app = Celery("fpdjango")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
