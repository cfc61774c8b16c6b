"""Replays: a sealed result used twice or too late, and one event id raced from 20 threads."""

import base64
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from risk.models import Device, FingerprintEvent, SignupAttempt
from sandbox.sealed import seal
from tests.support.sealed import signup

PASSWORD = "correct-horse-battery-9"
KEY = os.urandom(32)


@pytest.fixture
def sealed_keys(settings):
    settings.FINGERPRINT_SEALED_KEYS = [base64.b64encode(KEY).decode()]


@pytest.mark.django_db
def test_a_replayed_sealed_result_is_denied(sandbox, sealed_keys):
    """The blob is valid and opens: only the claim on its event id stops the second use."""
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    blob = seal(event, KEY)
    first = signup(event["event_id"], blob, username="first")
    again = signup(event["event_id"], blob, username="second")
    assert first.status_code == 201
    assert again.status_code == 403 and again.json()["code"] == "signup_denied"
    replay = SignupAttempt.objects.get(username="second")
    assert "event_reused" in replay.reasons and replay.claimed_event_id is None
    assert SignupAttempt.objects.get(username="first").claimed_event_id == event["event_id"]
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["first"]


@pytest.mark.django_db
def test_a_sealed_result_older_than_the_limit_is_denied(sandbox, sealed_keys, settings):
    settings.RISK_MAX_EVENT_AGE_S = 60
    stale = sandbox.create_event(profile="human", ip="127.0.0.1", age_s=120)
    response = signup(stale["event_id"], seal(stale, KEY))
    assert response.status_code == 403
    assert "event_stale" in SignupAttempt.objects.get().reasons
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_a_sealed_result_within_the_limit_passes(sandbox, sealed_keys, settings):
    settings.RISK_MAX_EVENT_AGE_S = 60
    recent = sandbox.create_event(profile="human", ip="127.0.0.1", age_s=30)
    assert signup(recent["event_id"], seal(recent, KEY)).status_code == 201


@pytest.mark.django_db
def test_sandbox_replayed_flag_in_a_sealed_result_is_denied(sandbox, sealed_keys):
    """Fingerprint's own `replayed` (the identification was replayed to it) is honoured too."""
    event = sandbox.create_event(profile="human", ip="127.0.0.1", replayed=True)
    assert signup(event["event_id"], seal(event, KEY)).status_code == 403
    assert "event_replayed" in SignupAttempt.objects.get().reasons


def race_one_event(url: str, event_id: str, prefix: str, threads: int = 20) -> list[int]:
    """`threads` real threads post the same event id at once, one connection each."""
    barrier = threading.Barrier(threads)

    def attempt(index: int) -> int:
        barrier.wait()
        response = requests.post(
            f"{url}/api/signup",
            json={"event_id": event_id, "username": f"{prefix}{index}", "password": PASSWORD},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(attempt, range(threads)))


@pytest.mark.django_db(transaction=True)
def test_one_event_id_from_20_threads_is_claimed_exactly_once(live_server, sandbox, settings):
    """Real threads against the live server (one connection each); run on PostgreSQL in CI."""
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 50  # only the claim can stop them, not the limit
    event = sandbox.create_event(profile="human", ip="127.0.0.1")

    statuses = race_one_event(live_server.url, event["event_id"], "racer")

    assert sorted(statuses) == [201] + [403] * 19, statuses
    attempts = SignupAttempt.objects.filter(event_id=event["event_id"])
    assert attempts.count() == 20
    claimed = attempts.exclude(claimed_event_id=None)
    assert claimed.count() == 1 and claimed.get().account is not None
    assert all("event_reused" in a.reasons for a in attempts.filter(claimed_event_id=None))
    assert get_user_model().objects.count() == 1
    assert FingerprintEvent.objects.filter(event_id=event["event_id"]).count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_bot_event_from_20_threads_is_claimed_once_on_the_lock_free_path(live_server, sandbox):
    """The same race on the lock-free refusal path (one statement on PostgreSQL): every
    request refused, one claim, one snapshot. The device counts the one attempt that claimed
    the event: a reused event counts toward nothing of the device's."""
    event = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")

    statuses = race_one_event(live_server.url, event["event_id"], "bot")

    assert statuses == [403] * 20
    attempts = SignupAttempt.objects.filter(event_id=event["event_id"])
    assert attempts.count() == 20 and attempts.exclude(claimed_event_id=None).count() == 1
    assert all("event_reused" in a.reasons for a in attempts.filter(claimed_event_id=None))
    assert FingerprintEvent.objects.filter(event_id=event["event_id"]).count() == 1
    assert Device.objects.get(visitor_id=event["identification"]["visitor_id"]).attempt_count == 1


@pytest.mark.django_db
def test_a_victims_event_ids_replayed_from_elsewhere_count_toward_nothing_of_the_device(
    sandbox, settings
):
    """An attacker holding event ids of someone's device posts them from another address: those
    signups fail the IP check and are held, but count toward neither the device's throttle nor
    its account limit nor its history, so the owner's own signup goes through."""
    settings.SIGNUP_THROTTLE_VISITOR_RATE = "2/hour"
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 1
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = 2
    home = "203.0.113.50"
    first = sandbox.create_event(profile="human", ip=home)
    visitor = first["identification"]["visitor_id"]
    stolen = [sandbox.create_event(profile="human", ip=home, visitor_id=visitor) for _ in range(3)]
    mine = sandbox.create_event(profile="human", ip=home, visitor_id=visitor)

    def post(event, username, ip):
        body = {"event_id": event["event_id"], "username": username, "password": PASSWORD}
        return APIClient(REMOTE_ADDR=ip).post("/api/signup", body, format="json")

    for n, event in enumerate(stolen):
        response = post(event, f"mallory{n}", "198.51.100.66")
        assert response.status_code == 201 and response.json()["status"] == "pending_review"
    replayed = SignupAttempt.objects.filter(username__startswith="mallory")
    assert all(a.device_id is None and "ip_mismatch" in a.reasons for a in replayed)
    assert not Device.objects.filter(visitor_id=visitor).exists()  # nothing counted

    response = post(first, "owner", home)
    assert response.status_code == 201 and response.json()["status"] == "created"
    response = post(mine, "owner2", home)  # the household's second: held, as it would be
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    device = Device.objects.get(visitor_id=visitor)
    assert (device.account_count, device.attempt_count) == (2, 2)
