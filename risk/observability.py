"""Metrics (Prometheus) and the one log line per signup decision.

Counters and histograms live in the process that counts them. Under gunicorn (several worker
processes) set PROMETHEUS_MULTIPROC_DIR to an empty directory (bin/serve does) so that
prometheus-client writes them to files there and `/metrics` sums every worker's. The gauges
that describe the whole deployment (review backlog, unverified signups, Celery queue depth)
are read from PostgreSQL / Redis at scrape time, so every node reports the same values.

prometheus-client is the `prometheus` extra: without it nothing is counted (the metrics are
no-ops) and the decision log line is still written.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.utils.crypto import salted_hmac

try:
    from prometheus_client import (
        CollectorRegistry,
        Counter,
        Histogram,
        generate_latest,
        multiprocess,
    )
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # the `prometheus` extra is not installed
    CollectorRegistry = GaugeMetricFamily = generate_latest = multiprocess = None

    class _Uncounted:
        """A metric nobody collects."""

        def __init__(self, *args, **kwargs) -> None:
            pass

        def labels(self, *values):
            return self

        def inc(self, amount: float = 1) -> None:
            pass

        def observe(self, amount: float) -> None:
            pass

    Counter = Histogram = _Uncounted

from risk.conf import risk_settings
from risk.fingerprint.errors import AuthError, NotFoundError, RequestError
from risk.fingerprint.transport import CALL_OBSERVERS

logger = logging.getLogger(__name__)
decision_logger = logging.getLogger("fpdjango.signup")

SIGNUP_DECISIONS = Counter(
    "fpdjango_signup_decisions",
    "Signup decisions, one count per reason (reason 'none' when there is none)",
    ["decision", "reason"],
)
UPSTREAM_SECONDS = Histogram(
    "fpdjango_upstream_request_seconds",
    "Time of one call to Fingerprint (retries and limiter waits included)",
    ["service"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
UPSTREAM_ERRORS = Counter(
    "fpdjango_upstream_errors", "Failed calls to Fingerprint by kind", ["service", "kind"]
)
THROTTLED = Counter("fpdjango_throttled_requests", "Signups refused by a throttle", ["scope"])
CACHE_ERRORS = Counter(
    "fpdjango_cache_errors",
    "Operations on Django's cache that failed, by what needed it ('throttle': the signup "
    "throttles let the signup through)",
    ["use"],
)
DEVICE_TURN_WAITS = Counter(
    "fpdjango_device_turn_waits",
    "Signups that waited for their device's turn (SIGNUP_DEVICE_CONCURRENCY), by how the wait "
    "ended: 'turn', or 'timed_out' (went ahead without one after risk.device_gate.MAX_WAIT_S)",
    ["outcome"],
)
SUSPECT_FEEDBACK = Counter(
    "fpdjango_suspect_feedback",
    "Suspect feedback to Fingerprint (risk.services.feedback) by outcome: 'sent', 'retry' "
    "(unavailable or rate limited: tried again), 'refused' (a 4xx: not retried), 'too_old' "
    "(older than a month), 'gave_up' (retries spent: left to the sweep)",
    ["outcome"],
)

_SERVICES = {"Fingerprint": "server_api", "DRN": "drn"}


def error_kind(error: Exception) -> str | None:
    """timeout, 5xx, 429, connection, client_rate_limited, auth, other; None when the call was
    answered (404 not found, 400 bad request: the caller's problem, not Fingerprint's)."""
    status = getattr(error, "status", None)
    code = getattr(error, "code", "")
    if isinstance(error, (NotFoundError, RequestError)):
        return None
    if code == "client_rate_limited":
        return "client_rate_limited"
    if status == 429:
        return "429"
    if status is not None and status >= 500:
        return "5xx"
    if code == "timeout":
        return "timeout"
    if code == "connection_error":
        return "connection"
    if isinstance(error, AuthError):
        return "auth"
    return "other"


def upstream_observe(service: str, seconds: float, error: Exception | None) -> None:
    label = _SERVICES.get(service, service.lower())
    UPSTREAM_SECONDS.labels(label).observe(seconds)
    kind = error_kind(error) if error is not None else None
    if kind:
        UPSTREAM_ERRORS.labels(label, kind).inc()


def install() -> None:
    """Register the upstream observer with the Fingerprint transport (once, at app ready)."""
    if upstream_observe not in CALL_OBSERVERS:
        CALL_OBSERVERS.append(upstream_observe)


def throttled_record(*, scope: str) -> None:
    THROTTLED.labels(scope).inc()


def cache_error_record(*, use: str) -> None:
    CACHE_ERRORS.labels(use).inc()


def suspect_feedback_record(*, outcome: str) -> None:
    SUSPECT_FEEDBACK.labels(outcome).inc()


class SignupTiming:
    """Where a signup's time went: upstream (Fingerprint, DRN) and in database queries."""

    def __init__(self) -> None:
        self.upstream_ms = 0.0
        self.db_ms = 0.0

    @contextmanager
    def upstream(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.upstream_ms += (time.perf_counter() - started) * 1000

    @contextmanager
    def database(self):
        """Adds up the time of every query run inside (not the Python between them)."""

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                self.db_ms += (time.perf_counter() - started) * 1000

        with connection.execute_wrapper(timed):
            yield


def logged_visitor_id(visitor_id: str) -> str | None:
    """The visitor id as RISK_LOG_VISITOR_ID says log lines carry it: as is, as a keyed hash
    (lines of one device still match; erasure leaves nothing readable in the logs), or not."""
    mode = risk_settings().log_visitor_id
    if mode == "off" or not visitor_id:
        return None
    if mode == "hashed":
        return salted_hmac("risk.log.visitor", visitor_id, algorithm="sha256").hexdigest()[:20]
    return visitor_id


def signup_decision_record(*, attempt, upstream_ms: float, db_ms: float) -> None:
    """Count the decision and write its log line. Never the password or any key."""
    reasons = list(attempt.reasons or [])
    for reason in reasons or ["none"]:
        SIGNUP_DECISIONS.labels(attempt.decision, reason).inc()
    decision_logger.info(
        "signup %s: %s",
        attempt.pk,
        attempt.decision,
        extra={
            "event": "signup_decision",
            "attempt_id": attempt.pk,
            "visitor_id": logged_visitor_id(attempt.visitor_id),
            "decision": attempt.decision,
            "reasons": reasons,
            "upstream_ms": round(upstream_ms, 1),
            "db_ms": round(db_ms, 1),
        },
    )


# --- scrape time --------------------------------------------------------------------------


class DeploymentCollector:
    """Gauges read at scrape time from the shared stores (the same on every node)."""

    def collect(self):
        from django.db.models import Count, Min
        from django.utils import timezone

        from risk.models import ReviewStatus, SignupAttempt

        pending = SignupAttempt.objects.filter(review_status=ReviewStatus.PENDING).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "fpdjango_review_backlog", "Signups waiting for a reviewer", value=pending["n"]
        )
        oldest = pending["oldest"]
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "fpdjango_review_oldest_pending_age_seconds",
            "Age of the oldest signup waiting for a reviewer (0 when none)",
            value=age,
        )
        yield GaugeMetricFamily(
            "fpdjango_unverified_signups",
            "Signups accepted while Fingerprint was down, not verified yet",
            value=SignupAttempt.objects.filter(decision="unverified").count(),
        )
        depth = celery_queue_depth()
        if depth is not None:
            queues = GaugeMetricFamily(
                "fpdjango_celery_queue_depth", "Tasks waiting in a Celery queue", labels=["queue"]
            )
            for name, n in depth.items():
                queues.add_metric([name], n)
            yield queues


def celery_queue_depth() -> dict[str, int] | None:
    """Messages waiting per queue on a Redis broker; None with no (or a non-Redis) broker."""
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    from risk.shared_limits import redis_client

    queues = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]
    try:
        client = redis_client(url)
        return {name: int(client.llen(name)) for name in queues}
    except redis.RedisError:
        logger.warning("Celery queue depth unavailable: Redis did not answer")
        return None


def metrics_exposition() -> bytes:
    """The text exposition of every metric (all gunicorn workers' with PROMETHEUS_MULTIPROC_DIR)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    return body + generate_latest(_deployment_registry())


def _deployment_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DeploymentCollector())
    return registry
