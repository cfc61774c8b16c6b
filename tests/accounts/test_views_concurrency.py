"""Real concurrency: many simultaneous signups from one device, over HTTP, on the real database."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model

from risk.models import Device, SignupAttempt
from tests.conftest import one_device_events

PASSWORD = "correct-horse-battery-9"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("soft", "hard", "strict", "created", "held", "turns"),
    [
        (1, 10, True, 1, 0, 1),
        (3, 10, True, 3, 0, 1),
        (1, 4, False, 1, 3, 1),
        (2, 6, False, 2, 4, 1),
        # Without the in-process turns, as signups spread over many processes meet: the
        # new device's unique insert and its row lock alone decide.
        (1, 10, True, 1, 0, 0),
        (2, 6, False, 2, 4, 0),
    ],
)
def test_fifty_concurrent_signups_from_one_device(
    live_server, sandbox, settings, soft, hard, strict, created, held, turns
):
    """The device limits hold under a burst: exactly `soft` accounts allowed, then (a clean
    device on one network) held up to the hard limit, the rest denied; strict mode denies
    past the soft limit."""
    settings.SIGNUP_DEVICE_CONCURRENCY = turns
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = soft
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = hard
    settings.RISK_DEVICE_LIMIT_STRICT = strict
    visitor, event_ids = one_device_events(sandbox, 50)

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
    assert get_user_model().objects.filter(signup_attempt__device=device).count() == accounts
    assert SignupAttempt.objects.filter(device=device).count() == 50
    assert device.account_count == accounts and device.attempt_count == 50


@pytest.mark.django_db(transaction=True)
def test_a_username_race_keeps_every_attempt(live_server, sandbox, settings):
    """Eight devices take the same free username at once. With production-like Argon2 cost
    all pass the serializer's check before anyone inserts; one account is created, the others
    get 400 username_taken, and their attempts are kept (denied, `username_taken`) with the
    account slot given back to their device."""
    settings.ARGON2_TIME_COST = 2
    settings.ARGON2_MEMORY_COST_KIB = 19456
    homes = [f"73.45.9.{i + 1}" for i in range(8)]
    events = [sandbox.create_event(profile="human", ip=ip)["event_id"] for ip in homes]
    settings.RISK_TRUSTED_PROXY_COUNT = 1

    def attempt(index):
        return requests.post(
            f"{live_server.url}/api/signup",
            json={"event_id": events[index], "username": "popular", "password": PASSWORD},
            headers={"X-Forwarded-For": homes[index]},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))

    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) == {201, 400}, codes
    for response in responses:
        if response.status_code == 400:
            body = response.json()
            assert body["code"] == "invalid_input"  # the serializer's 400, word for word
            assert body["errors"]["username"] == [
                {"code": "username_taken", "message": "This username is already taken."}
            ]
    assert get_user_model().objects.filter(username="popular").count() == 1
    lost = [a for a in SignupAttempt.objects.all() if "username_taken" in a.reasons]
    assert lost  # the race really happened: attempts got past the serializer's check
    for row in lost:
        assert row.decision == "deny" and row.account_id is None
        assert row.device.account_count == 0  # the slot was given back
