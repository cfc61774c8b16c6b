"""risk/parsers.py: the signup body is capped (an anonymous endpoint), refused before it is read."""

import pytest
from rest_framework.test import APIClient

from risk.models import SignupAttempt
from risk.parsers import SIGNUP_MAX_BODY_BYTES
from tests.support.webhooks import raw_request

pytestmark = pytest.mark.django_db


PASSWORD = "correct-horse-battery-9"


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
