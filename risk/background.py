"""Hand work to a Celery worker. The one way services enqueue: it imports no service (the tasks
in risk/tasks.py call the services, so the services must not import the tasks).

Tasks are sent by name through the Celery app the project configured. Without a broker
(Celery's `task_always_eager`, or Celery not installed) nothing is sent and `enqueue` says so:
the caller decides what happens instead (send an email now, leave a DRN lookup to
`backfill_drn`), because running the task in the caller is what it was deferred to avoid.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def tasks_run_inline() -> bool:
    """No worker to hand work to: Celery is not installed, or has no broker."""
    try:
        from celery import current_app
    except ImportError:
        return True
    return bool(current_app.conf.task_always_eager)


def enqueue(task: str, *args, countdown: float | None = None) -> bool:
    """Send `task` (its dotted name) now; False when there is no worker or the broker refused
    it (logged), so that the caller can fall back."""
    if tasks_run_inline():
        return False
    from celery import current_app

    try:
        current_app.send_task(task, args=args, countdown=countdown)
    except Exception:  # the broker is down: the caller's fallback keeps the work
        logger.warning("could not enqueue %s%r", task, args, exc_info=True)
        return False
    return True


def enqueue_after_commit(task: str, *args, countdown: float | None = None) -> None:
    """`enqueue` once the current transaction commits (a worker must see what it wrote)."""
    if tasks_run_inline():
        return
    transaction.on_commit(lambda: enqueue(task, *args, countdown=countdown))
