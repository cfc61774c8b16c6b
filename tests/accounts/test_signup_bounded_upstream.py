"""Bounded upstream use: a malformed id costs no Server API call, a 429 is never retried on the
signup path, and our own quota running out is logged as such. Fingerprint is the sandbox over
real HTTP."""

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import services
from accounts.serializers import CreateAccountSerializer, SignupSerializer
from risk.models import SignupAttempt
from risk.parsers import SIGNUP_MAX_BODY_BYTES
from risk.verdict import event_id_valid
from tests.conftest import vendor_fixture
from tests.risk.test_webhook_size_cap import raw_request

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def post(event_id, username="bounded", path="/api/signup", field="event_id"):
    return APIClient(REMOTE_ADDR="127.0.0.1").post(
        path, {field: event_id, "username": username, "password": PASSWORD}, format="json"
    )


def event_calls(control) -> int:
    return control.stats()["requests"].get("v4_get_event", 0)


class _CountingHandler(BaseHTTPRequestHandler):
    """A Server API stand-in of our own: counts requests (the shared sandbox's counters can
    move with a late request of an earlier test), answers 404 to all."""

    paths: list[str] = []

    def do_GET(self):
        self.paths.append(self.path)
        body = b'{"error": {"code": "event_not_found", "message": "not found"}}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def counting_api(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FINGERPRINT_API_URL = f"http://127.0.0.1:{server.server_port}"
    settings.FINGERPRINT_SECRET_API_KEY = "counting-key"
    _CountingHandler.paths = []
    yield _CountingHandler.paths
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "event_id",
    [
        "forged",
        "1.a",
        "1700000000000",  # no random part
        "1700000000000.",
        "1700000000000.abc/ef",
        "1700000000000.abcdef.x",
        "../../v4/events",
        "a" * 64,
        "Px6VxbRC6WBkA39yeNH",  # 19: one short of the 20-character form
        "1700000000000.abcdéf",
    ],
)
@pytest.mark.parametrize(
    ("path", "field"), [("/api/signup", "event_id"), ("/api/create-account", "requestId")]
)
def test_malformed_event_id_is_400_before_any_upstream_call(counting_api, event_id, path, field):
    response = post(event_id, path=path, field=field)
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["code"] == "invalid_event_id"
    assert counting_api == []
    assert SignupAttempt.objects.count() == 0


def test_a_well_formed_made_up_id_costs_exactly_one_call(counting_api):
    response = post("1700000000000.madeUp")
    assert response.status_code == 403
    assert counting_api == ["/v4/events/1700000000000.madeUp"]
    assert SignupAttempt.objects.get().reasons == ["event_not_found"]


def test_fingerprint_id_shapes_are_accepted():
    """Every id shape in the vendor's examples and the sandbox's (v4 event_id, v3 requestId)."""
    ids = {
        vendor_fixture("v4_get_event_200.json")["event_id"],
        vendor_fixture("v3_get_event_200.json")["products"]["identification"]["data"]["requestId"],
        vendor_fixture("v3_webhook.json")["requestId"],  # the 20-character form
        "1732000000000.aNdr01",
    }
    for event_id in ids:
        assert event_id_valid(event_id), event_id
        for serializer in (SignupSerializer(), CreateAccountSerializer()):
            name = "requestId" if "requestId" in serializer.fields else "event_id"
            assert serializer.fields[name].run_validation(event_id) == event_id


def test_sandbox_event_ids_are_accepted(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert post(event["event_id"]).status_code == 201


def test_signup_never_retries_a_429_and_logs_our_quota(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 3
    settings.FINGERPRINT_FAILURE_POLICY = "review"
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=429)
    before = event_calls(sandbox)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        response = post(event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    assert event_calls(sandbox) - before == 1  # one call, no retry
    attempt = SignupAttempt.objects.get()
    assert attempt.fingerprint_error.startswith("quota:")
    quota_logs = [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]
    assert [r.fingerprint_error_kind for r in quota_logs] == ["quota_exhausted"]
    assert quota_logs[0].levelno == logging.ERROR
    assert "quota exhausted" in quota_logs[0].getMessage()


def test_signup_still_retries_a_5xx_within_the_budget(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 2
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=503, count=1)
    before = event_calls(sandbox)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        response = post(event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "created"
    assert event_calls(sandbox) - before == 2
    assert not [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]


def test_fingerprint_down_is_not_logged_as_quota(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 0
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=500)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        post(event["event_id"])
    assert not [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]
    assert not SignupAttempt.objects.get().fingerprint_error.startswith("quota:")


# --- item 2: the username check uses the Lower(username) index ---------------------------------


def test_username_check_compares_lower_to_lower():
    with CaptureQueriesContext(connection) as queries:
        services.username_taken("Carol")
    sql = [q["sql"] for q in queries if "accounts_user" in q["sql"]]
    assert len(sql) == 1
    assert 'LOWER("accounts_user"."username") = (LOWER(' in sql[0]
    assert "UPPER(" not in sql[0]


def test_username_check_finds_other_cases():
    get_user_model().objects.create_user(username="Carol", password=PASSWORD)
    serializer = SignupSerializer(
        data={"event_id": "1700000000000.abcdef", "username": "cAROL", "password": PASSWORD}
    )
    assert not serializer.is_valid()
    assert serializer.errors["username"][0].code == "username_taken"


@pytest.mark.postgres
def test_username_check_plan_uses_the_lower_index():
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    get_user_model().objects.bulk_create(
        [get_user_model()(username=f"user{i}", password="!") for i in range(200)]
    )
    with connection.cursor() as cursor:
        # A tiny table is scanned whatever the indexes; forbid that to see if the index fits.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("ANALYZE accounts_user")
        plan = services.username_query("User7").explain()
    assert "user_username_ci_unique" in plan, plan


# --- the signup body is capped too (an anonymous endpoint) ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_announced_oversize_signup_is_413_without_being_read(live_server):
    head = (
        "POST /api/signup HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    )
    answer = raw_request(live_server.url, head)  # no body sent: an answer means none was read
    assert answer.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 413"), answer[:200]
    assert SignupAttempt.objects.count() == 0


def test_oversize_signup_body_is_413_and_writes_nothing(counting_api):
    body = {
        "event_id": "1700000000000.abcdef",
        "username": "bulky",
        "password": PASSWORD,
        "email": "",
        "sealed_result": "A" * (SIGNUP_MAX_BODY_BYTES + 1),
    }
    response = APIClient(REMOTE_ADDR="127.0.0.1").post("/api/signup", body, format="json")
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert SignupAttempt.objects.count() == 0 and counting_api == []
