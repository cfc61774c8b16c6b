"""accounts/serializers.py: the signup API's input, validated before any call to Fingerprint."""

import pytest
from django.contrib.auth import get_user_model

from accounts.serializers import SignupSerializer

PASSWORD = "correct-horse-battery-9"

pytestmark = pytest.mark.django_db


def test_username_check_finds_other_cases():
    get_user_model().objects.create_user(username="Carol", password=PASSWORD)
    serializer = SignupSerializer(
        data={"event_id": "1700000000000.abcdef", "username": "cAROL", "password": PASSWORD}
    )
    assert not serializer.is_valid()
    assert serializer.errors["username"][0].code == "username_taken"
