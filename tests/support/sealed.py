"""Signups carrying a sealed client result, through the real API."""

from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery-9"


def signup(event_id, sealed_result="", username="sealy"):
    return APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {
            "event_id": event_id,
            "sealed_result": sealed_result,
            "username": username,
            "password": PASSWORD,
        },
        format="json",
    )
