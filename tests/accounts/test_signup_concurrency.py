"""Real concurrency: many simultaneous signups from one device, over HTTP, on the real database."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model

from risk.models import Device, SignupAttempt

PASSWORD = "correct-horse-battery-9"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("soft", "hard", "strict", "created", "held"),
    [(1, 10, True, 1, 0), (3, 10, True, 3, 0), (1, 4, False, 1, 3), (2, 6, False, 2, 4)],
)
def test_fifty_concurrent_signups_from_one_device(
    live_server, sandbox, settings, soft, hard, strict, created, held
):
    """The device limits hold under a burst: exactly `soft` accounts allowed, then (a clean
    device on one network) held up to the hard limit, the rest denied; strict mode denies
    past the soft limit."""
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = soft
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = hard
    settings.RISK_DEVICE_LIMIT_STRICT = strict
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    visitor = first["identification"]["visitor_id"]
    event_ids = [first["event_id"]] + [
        sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor)["event_id"]
        for _ in range(49)
    ]

    def attempt(index_and_event):
        index, event_id = index_and_event
        response = requests.post(
            f"{live_server.url}/api/signup",
            json={"event_id": event_id, "username": f"user{index}", "password": PASSWORD},
            timeout=60,
        )
        body = response.json()
        return response.status_code if response.status_code != 201 else body["status"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, enumerate(event_ids)))

    accounts = created + held
    assert outcomes.count("created") == created, outcomes
    assert outcomes.count("pending_review") == held, outcomes
    assert outcomes.count(403) == 50 - accounts, outcomes
    device = Device.objects.get(visitor_id=visitor)
    assert get_user_model().objects.filter(device=device).count() == accounts
    assert SignupAttempt.objects.filter(device=device).count() == 50
    assert device.account_count == accounts and device.attempt_count == 50
