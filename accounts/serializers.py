"""Input validation for the signup API. Nothing here touches Fingerprint or writes anything."""

import copy

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import connection
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Fingerprint's ids: `<epoch ms>.<random>` (v4 event_id and v3 requestId, e.g.
# 1708102555327.NLOjmg) and the 20-character form of the vendor's v3 webhook example. Anything
# else is refused before an upstream call: a made-up id must not cost us Server API quota.
EVENT_ID_PATTERN = r"^(?:[0-9]{10,16}\.[A-Za-z0-9]{4,16}|[A-Za-z0-9]{20})$"
event_id_validator = RegexValidator(
    EVENT_ID_PATTERN, message="Not a Fingerprint event id.", code="invalid_event_id"
)


# DRF refuses NUL characters in every CharField (ProhibitNullCharactersValidator): say so.
NO_NUL_PATTERN = "^[^\\u0000]*$"


@extend_schema_field(
    {
        "type": "string",
        "writeOnly": True,
        "minLength": 8,
        "maxLength": 128,
        "pattern": NO_NUL_PATTERN,
    }
)
class PasswordField(serializers.CharField):
    """A password. The schema states Django's minimum length (8, MinimumLengthValidator), which
    `validate()` enforces with the validators' own codes (`password_too_short`...)."""


@extend_schema_field({"type": "string", "maxLength": 65536, "pattern": NO_NUL_PATTERN})
class SealedResultField(serializers.CharField):
    pass


# LOWER(username) = LOWER(%s) is served by the unique index on Lower("username")
# (user_username_ci_unique), unlike `username__iexact`, which compiles to UPPER() on
# PostgreSQL and scans the table. Plain SQL: it runs before every signup, and compiling the
# ORM expression cost more CPU than the index probe.
USERNAME_TAKEN = "This username is already taken."
USERNAME_TAKEN_SQL = "SELECT 1 FROM accounts_user WHERE LOWER(username) = LOWER(%s) LIMIT 1"


def username_taken(username: str) -> bool:
    """Does an account already have this username, whatever its case?"""
    with connection.cursor() as cursor:
        cursor.execute(USERNAME_TAKEN_SQL, [username])
        return cursor.fetchone() is not None


class SignupSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        max_length=64, trim_whitespace=True, validators=[event_id_validator]
    )
    username = serializers.CharField(
        max_length=150, min_length=3, validators=[UnicodeUsernameValidator()]
    )
    password = PasswordField(max_length=128, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    # Optional: the agent's sealed result; opened locally when FINGERPRINT_SEALED_KEYS is set.
    sealed_result = SealedResultField(
        required=False, allow_blank=True, default="", max_length=65536, trim_whitespace=True
    )

    def get_fields(self) -> dict:
        # DRF deep-copies every declared field per serializer, re-running each field's
        # __init__ (about 3% of a refusal's CPU). A shallow copy is enough here: bind() only
        # sets attributes on the copy, and the shared validators and messages are never mutated.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def validate_username(self, value: str) -> str:
        if username_taken(value):
            raise serializers.ValidationError(USERNAME_TAKEN, code="username_taken")
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
    requestId = serializers.CharField(  # noqa: N815
        max_length=64, trim_whitespace=True, validators=[event_id_validator]
    )

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        attrs["event_id"] = attrs.pop("requestId")
        return attrs


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()  # "" when none was given


# --- response shapes (documentation of the OpenAPI schema; the views build plain dicts) ------


class SignupCreatedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "pending_review"])
    account = AccountSerializer()
    reference = serializers.CharField(help_text="Opaque token staff can search in the console")


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error: `{"code", "message", "errors"?, "reference"?}` (see accounts/api_errors.py)."""

    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=ErrorDetailSerializer()), required=False
    )
    reference = serializers.CharField(required=False)
