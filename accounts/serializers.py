"""The reference project's signup API input: its own fields (username, password, email) on top
of risk's DRF integration, which adds the Fingerprint event and asks for the verdict."""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import services
from risk.integrations.drf import EventIdField, FingerprintSignupMixin, UsernameTaken

USERNAME_TAKEN = "This username is already taken."
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


class SignupSerializer(FingerprintSignupMixin, serializers.Serializer):
    username = serializers.CharField(
        max_length=150, min_length=3, validators=[UnicodeUsernameValidator()]
    )
    password = PasswordField(max_length=128, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)

    def validate_username(self, value: str) -> str:
        if services.username_taken(value):
            raise serializers.ValidationError(USERNAME_TAKEN, code="username_taken")
        return value

    def validate(self, attrs: dict) -> dict:
        # Before the verdict: a weak password costs no call to Fingerprint.
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
        attrs = super().validate(attrs)  # the verdict; raises for a refused signup
        # Hashed only for a signup that gets an account (a bot flood costs no Argon2), and
        # before save() opens its transaction (no lock waits on the hash).
        attrs["password"] = make_password(attrs["password"])
        return attrs

    def create(self, validated_data: dict):
        verdict = self.fingerprint_verdict
        try:
            return services.account_create(
                username=validated_data["username"],
                email=validated_data.get("email", ""),
                password_hash=validated_data["password"],
                active=verdict.account_active,
            )
        except IntegrityError as exc:
            if "username" not in str(exc).lower():
                raise
            # A concurrent signup took the name after the check above: the same 400 as it.
            raise UsernameTaken(USERNAME_TAKEN) from exc


class CreateAccountSerializer(SignupSerializer):
    """The seed quickstart's request body: `requestId` instead of `event_id`."""

    fingerprint_endpoint = "create-account"
    event_id = None
    requestId = EventIdField()  # noqa: N815


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()  # "" when none was given


# --- response shapes (documentation of the OpenAPI schema; the views build plain dicts) ------


class SignupCreatedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "pending_review"])
    account = AccountSerializer()
    reference = serializers.CharField(help_text="Opaque token staff can search in the console")
