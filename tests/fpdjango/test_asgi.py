"""fpdjango/asgi.py: the ASGI entry serves the project, and refuses to start in production as
the WSGI one does (risk.checks.production_problems)."""

import json

import pytest

from tests.support.production import manage, subprocess_database_url

# One GET through the ASGI application, as an ASGI server would send it.
SERVE_ONE = """
import asyncio, json
from asgiref.testing import ApplicationCommunicator
from fpdjango.asgi import application

async def get(path):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"x-request-id", b"asgi-test-1")],
        "server": ("localhost", 80), "client": ("127.0.0.1", 50000),
    }
    talk = ApplicationCommunicator(application, scope)
    await talk.send_input({"type": "http.request", "body": b""})
    start = await talk.receive_output(20)
    body = await talk.receive_output(20)
    headers = {name.lower(): value for name, value in start["headers"]}
    return start["status"], headers, body["body"].decode()

status, headers, body = asyncio.run(get("/healthz"))
print(json.dumps({"status": status, "request_id": headers[b"x-request-id"].decode(), "body": body}))
"""


@pytest.mark.django_db(transaction=True)
def test_a_request_goes_through_the_whole_asgi_stack():
    result = manage("shell", "-c", SERVE_ONE, DATABASE_URL=subprocess_database_url())
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert json.loads(answer["body"]) == {"status": "ok", "database": "ok"}
    assert answer["request_id"] == "asgi-test-1"  # the project's middleware ran too


@pytest.mark.parametrize(
    ("env", "check_id"),
    [
        ({"DJANGO_SECRET_KEY": "changeme"}, "risk.E013"),
        ({"FINGERPRINT_SECRET_API_KEY": ""}, "risk.E001"),
    ],
)
def test_an_unsafe_production_configuration_does_not_start(env, check_id):
    result = manage("shell", "-c", "import fpdjango.asgi", **env)
    assert result.returncode != 0
    assert "refusing to start in production" in result.stderr and check_id in result.stderr
