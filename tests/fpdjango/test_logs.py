"""fpdjango/logs.py: a request id on every line, and JSON lines in production."""

import json

import pytest
from rest_framework.test import APIClient

from tests.support.logs import signup

pytestmark = pytest.mark.django_db


def test_request_id_is_made_when_missing_or_unsafe(json_log, sandbox):
    api = APIClient(REMOTE_ADDR="127.0.0.1")
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = signup(api, event["event_id"], "logged2", HTTP_X_REQUEST_ID="bad id\r\nx: y")
    made = response["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()
    assert json.loads(json_log.getvalue())["request_id"] == made
    assert APIClient().get("/healthz")["X-Request-ID"]


def test_production_logging_is_json_lines(tmp_path):
    """The LOGGING of settings.py with LOG_FORMAT=json formats records as JSON."""
    import subprocess
    import sys

    from tests.support.redis_celery import ROOT

    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('x').warning('hello %s', 'world', extra={'attempt_id': 7})"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "fpdjango.settings",
        "DJANGO_SECRET_KEY": "k",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "LOG_FORMAT": "json",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello world" and line["attempt_id"] == 7
    assert line["level"] == "WARNING" and line["request_id"] == "-"
