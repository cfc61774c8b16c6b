"""/metrics (Prometheus) and the JSON log line of every signup decision."""

import json
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from risk.models import ReviewStatus, SignupAttempt
from tests.support.logs import signup

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"
TOKEN = "scrape-token-for-tests"


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client=None, token=TOKEN) -> dict:
    client = client or APIClient()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_metrics_count_decisions_latency_errors_and_backlog(settings, sandbox):
    settings.METRICS_TOKEN = TOKEN
    settings.FINGERPRINT_MAX_RETRIES = 0
    api = APIClient(REMOTE_ADDR="127.0.0.1")
    allow_before = sample("fpdjango_signup_decisions_total", decision="allow", reason="none")
    bot_before = sample("fpdjango_signup_decisions_total", decision="deny", reason="bot_bad")
    calls_before = sample("fpdjango_upstream_request_seconds_count", service="server_api")
    errors_before = sample("fpdjango_upstream_errors_total", service="server_api", kind="5xx")

    human = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert signup(api, human["event_id"], "human1").status_code == 201
    bot = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")
    assert signup(api, bot["event_id"], "robot1").status_code == 403
    sandbox.set_faults(target="events", status=500)
    down = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert signup(api, down["event_id"], "later1").status_code == 201  # accepted unverified
    sandbox.clear_faults()
    onion = sandbox.create_event(profile="tor", ip="127.0.0.1")
    assert signup(api, onion["event_id"], "onion1").status_code == 201  # held for review
    waiting = timezone.now() - timedelta(minutes=2)  # the held signup has waited 2 minutes
    SignupAttempt.objects.filter(review_status=ReviewStatus.PENDING).update(created_at=waiting)

    samples = scrape()
    decisions = "fpdjango_signup_decisions_total"
    assert samples[(decisions, (("decision", "allow"), ("reason", "none")))] == allow_before + 1
    assert samples[(decisions, (("decision", "deny"), ("reason", "bot_bad")))] == bot_before + 1
    latency = ("fpdjango_upstream_request_seconds_count", (("service", "server_api"),))
    assert samples[latency] >= calls_before + 4
    errors = ("fpdjango_upstream_errors_total", (("kind", "5xx"), ("service", "server_api")))
    assert samples[errors] == errors_before + 1
    pending = SignupAttempt.objects.filter(review_status=ReviewStatus.PENDING).count()
    assert pending >= 1
    assert samples[("fpdjango_review_backlog", ())] == pending
    assert samples[("fpdjango_review_oldest_pending_age_seconds", ())] >= 120
    assert samples[("fpdjango_unverified_signups", ())] == 1


def test_throttled_requests_are_counted(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.SIGNUP_THROTTLE_RATE = "1/hour"
    before = sample("fpdjango_throttled_requests_total", scope="ip")
    api = APIClient(REMOTE_ADDR="192.0.2.44")
    codes = [api.post("/api/signup", {}, format="json").status_code for _ in range(3)]
    assert codes == [400, 429, 429]
    assert scrape()[("fpdjango_throttled_requests_total", (("scope", "ip"),))] == before + 2


def test_celery_queue_depth_is_read_from_the_redis_broker(settings, redis_url, redis_prefix):
    settings.METRICS_TOKEN = TOKEN
    settings.CELERY_BROKER_URL = redis_url
    settings.CELERY_TASK_DEFAULT_QUEUE = redis_prefix
    client = redis.Redis.from_url(redis_url)
    client.lpush(redis_prefix, "a", "b", "c")
    try:
        samples = scrape()
    finally:
        client.delete(redis_prefix)
    assert samples[("fpdjango_celery_queue_depth", (("queue", redis_prefix),))] == 3


def test_one_json_line_per_signup_decision_with_the_request_id(json_log, sandbox):
    api = APIClient(REMOTE_ADDR="127.0.0.1")
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = signup(api, event["event_id"], "logged1", HTTP_X_REQUEST_ID="req-abc.123")
    assert response.status_code == 201
    assert response["X-Request-ID"] == "req-abc.123"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert line["request_id"] == "req-abc.123"
    assert line["event"] == "signup_decision"
    assert line["attempt_id"] == attempt.pk
    assert line["visitor_id"] == event["identification"]["visitor_id"]
    assert line["decision"] == "allow" and line["reasons"] == []
    assert line["upstream_ms"] > 0 and line["db_ms"] > 0
    assert line["level"] == "INFO" and line["logger"] == "fpdjango.signup"
    text = json_log.getvalue()
    assert PASSWORD not in text and "sandbox-secret-key" not in text


@pytest.mark.parametrize("mode", ["hashed", "off"])
def test_the_decision_line_can_carry_the_visitor_id_hashed_or_not_at_all(
    json_log, sandbox, settings, mode
):
    settings.RISK_LOG_VISITOR_ID = mode
    event = sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id="vsLogged0000000001")
    signup(APIClient(REMOTE_ADDR="127.0.0.1"), event["event_id"], f"logged-{mode}")
    assert "vsLogged0000000001" not in json_log.getvalue()
    line = json.loads(json_log.getvalue())
    if mode == "off":
        assert line["visitor_id"] is None
        return
    again = sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id="vsLogged0000000001")
    signup(APIClient(REMOTE_ADDR="127.0.0.1"), again["event_id"], "logged-again")
    lines = [json.loads(text) for text in json_log.getvalue().splitlines()]
    assert len(lines[0]["visitor_id"]) == 20 and lines[0]["visitor_id"] == lines[1]["visitor_id"]


def test_gunicorn_workers_counters_are_summed(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR (bin/serve sets it) every process's counters add up."""
    import subprocess
    import sys

    from tests.support.redis_celery import ROOT

    bump = (
        "import django; django.setup(); from risk import observability as o; "
        "o.throttled_record(scope='visitor'); o.throttled_record(scope='visitor')"
    )
    read = (
        "import django; django.setup(); from prometheus_client import CollectorRegistry, "
        "generate_latest, multiprocess; r = CollectorRegistry(); "
        "multiprocess.MultiProcessCollector(r); print(generate_latest(r).decode())"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "fpdjango.test_settings",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    for _ in range(2):
        subprocess.run([sys.executable, "-c", bump], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", read], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'fpdjango_throttled_requests_total{scope="visitor"} 4.0' in out
