"""accounts/serializers.py: the signup API's input, validated before any call to Fingerprint."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from rest_framework.test import APIRequestFactory

from accounts.serializers import AccountSerializer, CreateAccountSerializer, SignupSerializer
from risk.models import SignupAttempt

PASSWORD = "correct-horse-battery-9"

pytestmark = pytest.mark.django_db


def test_username_check_finds_other_cases():
    get_user_model().objects.create_user(username="Carol", password=PASSWORD)
    serializer = SignupSerializer(
        data={"event_id": "1700000000000.abcdef", "username": "cAROL", "password": PASSWORD}
    )
    assert not serializer.is_valid()
    assert serializer.errors["username"][0].code == "username_taken"


def test_a_weak_password_is_refused_with_the_validators_codes_and_no_verdict(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    fetches = sandbox.stats()["requests"].get("v4_get_event", 0)
    weak = {"event_id": event["event_id"], "username": "numbers", "password": "12345678"}
    serializer = SignupSerializer(data=weak)
    assert not serializer.is_valid()
    codes = {error.code for error in serializer.errors["password"]}
    assert codes == {"password_too_common", "password_entirely_numeric"}
    similar = {**weak, "username": "marguerite", "password": "marguerite1"}
    serializer = SignupSerializer(data=similar)
    assert not serializer.is_valid()
    assert "password_too_similar" in {error.code for error in serializer.errors["password"]}
    # Refused before the verdict: no call to Fingerprint, no attempt recorded.
    assert sandbox.stats()["requests"].get("v4_get_event", 0) == fetches
    assert not SignupAttempt.objects.exists()


@pytest.mark.parametrize(
    ("username", "code"),
    [("ab", "min_length"), ("a" * 151, "max_length"), ("bad name!", "invalid")],
)
def test_usernames_the_api_refuses(username, code):
    data = {"event_id": "1700000000000.abcdef", "username": username, "password": PASSWORD}
    serializer = SignupSerializer(data=data)
    assert not serializer.is_valid()
    assert serializer.errors["username"][0].code == code


def test_the_seed_endpoint_reads_request_id_instead_of_event_id():
    fields = CreateAccountSerializer().fields
    assert "requestId" in fields and "event_id" not in fields
    bad = CreateAccountSerializer(
        data={"requestId": "not-an-id", "username": "seedy", "password": PASSWORD}
    )
    assert not bad.is_valid()
    assert bad.errors["requestId"][0].code == "invalid_event_id"


def test_an_allowed_signup_saves_an_active_account_with_a_hashed_password(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    request = APIRequestFactory().post("/api/signup", REMOTE_ADDR="127.0.0.1")
    data = {"event_id": event["event_id"], "username": "Saved", "password": PASSWORD}
    serializer = SignupSerializer(data=data, context={"request": request})
    assert serializer.is_valid(), serializer.errors
    account = serializer.save()
    assert account.is_active and account.username == "Saved"
    assert account.password != PASSWORD and check_password(PASSWORD, account.password)
    attempt = SignupAttempt.objects.get(account=account)
    assert attempt.decision == "allow" and serializer.fingerprint_verdict.reference == (
        attempt.reference
    )
    assert AccountSerializer(account).data == {"id": account.pk, "username": "Saved", "email": ""}
