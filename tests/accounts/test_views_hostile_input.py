"""Hostile or absurd input to POST /api/signup never becomes a 500 or a wrong record."""

import pytest
from rest_framework.test import APIClient

from risk.models import FingerprintEvent, SignupAttempt


@pytest.mark.django_db
@pytest.mark.parametrize("event_id", [".", "..", "-x", "_"])
def test_dot_and_punctuation_ids_are_invalid_input(sandbox, event_id):
    # "." would be normalised to /v4/events/ (the search endpoint) in the lookup URL.
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event_id, "username": "dotty", "password": "correct-horse-battery-9"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["event_id"][0]["code"] == "invalid_event_id"
    assert SignupAttempt.objects.count() == 0


@pytest.mark.django_db
def test_overlong_email_is_400_not_a_database_error(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {
            "event_id": event["event_id"],
            "username": "longmail",
            "password": "correct-horse-battery-9",
            "email": "a" * 250 + "@example.com",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["email"][0]["code"] == "max_length"


@pytest.mark.django_db
def test_absurd_numbers_in_an_event_are_kept_raw_not_crashing(sandbox):
    event = sandbox.create_event(
        profile="human", ip="127.0.0.1", overrides={"suspect_score": 10**12}
    )
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "bignum", "password": "correct-horse-9z"},
        format="json",
    )
    assert response.status_code == 201
    snapshot = FingerprintEvent.objects.get()
    assert snapshot.suspect_score == 2**31 - 1 and snapshot.raw["suspect_score"] == 10**12
