"""Input validation for the signup API. Nothing here touches Fingerprint or writes anything."""

import re

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

# Starts with a letter or digit: "." or ".." would be normalised away in the lookup URL.
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SignupSerializer(serializers.Serializer):
    """Shape and password rules only. A taken username is answered by the database's
    case-insensitive unique constraint when the account is inserted (400 username_taken, the
    attempt rolled back with it): a refusal, the common case under attack, skips the lookup,
    and usernames cannot be probed without an event that Fingerprint allows."""

    event_id = serializers.CharField(max_length=64, trim_whitespace=True)
    username = serializers.CharField(
        max_length=150, min_length=3, validators=[UnicodeUsernameValidator()]
    )
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    # Optional: the agent's sealed result; opened locally when FINGERPRINT_SEALED_KEYS is set.
    sealed_result = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=65536, trim_whitespace=True
    )

    def validate_event_id(self, value: str) -> str:
        if not EVENT_ID_RE.match(value):
            raise serializers.ValidationError(
                "Not a Fingerprint event id.", code="invalid_event_id"
            )
        return value

    def validate(self, attrs: dict) -> dict:
        # Django's validators need the other fields (similarity to username/email).
        candidate = get_user_model()(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                {
                    "password": [
                        serializers.ErrorDetail(message, code=error.code or "invalid_password")
                        for error, message in zip(exc.error_list, exc.messages, strict=True)
                    ]
                }
            ) from exc
        return attrs


class CreateAccountSerializer(SignupSerializer):
    """The seed quickstart's request body: `requestId` instead of `event_id`."""

    event_id = None
    requestId = serializers.CharField(max_length=64, trim_whitespace=True)  # noqa: N815

    def validate_requestId(self, value: str) -> str:  # noqa: N802
        return self.validate_event_id(value)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        attrs["event_id"] = attrs.pop("requestId")
        return attrs


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
