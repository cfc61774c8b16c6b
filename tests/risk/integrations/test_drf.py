"""FingerprintSignupMixin on a host's own registration serializer (not the reference API's):
the same 201 / 403 / 503 / 429 outcomes, and `save(request)` as dj-rest-auth calls it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework import generics, serializers
from rest_framework.test import APIRequestFactory

from risk.integrations.drf import FingerprintSignupMixin
from risk.models import SignupAttempt

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
PASSWORD = "correct-horse-battery-9"


class HostSerializer(serializers.Serializer):
    """A host's registration serializer whose save() takes the request, as dj-rest-auth's."""

    username = serializers.CharField()
    password = serializers.CharField(write_only=True)

    def save(self, request):
        assert request is self.context["request"]
        return User.objects.create_user(**self.validated_data)


class HostRegisterSerializer(FingerprintSignupMixin, HostSerializer):
    pass


class HostRegisterView(generics.CreateAPIView):
    serializer_class = HostRegisterSerializer
    authentication_classes = ()
    permission_classes = ()

    def perform_create(self, serializer):
        serializer.save(self.request)


def register(username: str, event_id: str):
    request = APIRequestFactory().post(
        "/register", {"username": username, "password": PASSWORD, "event_id": event_id},
        format="json",
    )  # fmt: skip
    response = HostRegisterView.as_view()(request)
    response.render()
    return response


def test_allowed_created_active_and_linked(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = register("alice", event["event_id"])
    assert response.status_code == 201, response.data
    assert "event_id" not in response.data  # write-only: not echoed
    alice = User.objects.get(username="alice")
    assert alice.is_active
    assert SignupAttempt.objects.get(account=alice).decision == "allow"


def test_held_is_created_inactive(sandbox):
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert register("alice", first["event_id"]).status_code == 201
    visitor = first["identification"]["visitor_id"]
    again = sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor)
    response = register("alice_two", again["event_id"])
    attempt = SignupAttempt.objects.get(username="alice_two")
    if attempt.decision == "review":
        assert response.status_code == 201
        assert not User.objects.get(username="alice_two").is_active
        assert attempt.account.username == "alice_two"
    else:  # a device with a farm signal past its limit
        assert response.status_code == 403


def test_denied_is_403_with_a_reference_and_no_user(sandbox):
    bot = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")
    response = register("mallory", bot["event_id"])
    assert response.status_code == 403
    assert response.data["code"] == "signup_denied"
    attempt = SignupAttempt.objects.get(reference=response.data["reference"])
    assert "bot_bad" in attempt.reasons
    assert not User.objects.filter(username="mallory").exists()


def test_unavailable_under_the_deny_policy_is_503_with_retry_after(sandbox, settings):
    settings.FINGERPRINT_FAILURE_POLICY = "deny"
    settings.FINGERPRINT_TIMEOUT_S = 0.4
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=500)
    response = register("alice", event["event_id"])
    assert response.status_code == 503
    assert response.data["code"] == "fingerprint_unavailable"
    assert int(response["Retry-After"]) > 0
    assert not User.objects.exists()


def test_throttled_is_429(sandbox, settings):
    settings.SIGNUP_THROTTLE_RATE = "1/hour"
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert register("alice", first["event_id"]).status_code == 201
    second = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = register("bob", second["event_id"])
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_malformed_event_id_is_400_and_writes_nothing(sandbox):
    response = register("alice", "not-an-event")
    assert response.status_code == 400
    assert response.data["errors"]["event_id"][0]["code"] == "invalid_event_id"
    assert not SignupAttempt.objects.exists() and not User.objects.exists()
