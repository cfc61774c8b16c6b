"""Real concurrency: many simultaneous signups from one device, over HTTP, on the real database."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model

from risk.models import Device, SignupAttempt

PASSWORD = "correct-horse-battery-9"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("limit", [1, 3])
def test_fifty_concurrent_signups_from_one_device(live_server, sandbox, settings, limit):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = limit
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
        return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(attempt, enumerate(event_ids)))

    assert 500 not in statuses
    assert statuses.count(201) == limit
    assert statuses.count(403) == 50 - limit
    device = Device.objects.get(visitor_id=visitor)
    assert get_user_model().objects.filter(device=device).count() == limit
    assert SignupAttempt.objects.filter(device=device).count() == 50
    assert device.account_count == limit and device.attempt_count == 50
