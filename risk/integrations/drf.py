"""Django REST Framework: Fingerprint-checked signups in a host's own registration serializer,
and the error shape of risk's endpoints.

    from risk.integrations.drf import FingerprintSignupMixin

    class RegisterSerializer(FingerprintSignupMixin, dj_rest_auth.RegisterSerializer):
        pass

The mixin adds the fields `event_id` (the agent's event id) and `sealed_result`. Once the host's
own validation passed, it asks for the verdict (risk.verdict) and answers as the reference API
does:

    allowed          the host's serializer saves the user, active
    held/unverified  the host's serializer saves the user; the mixin makes it inactive
    denied           403 {"code": "signup_denied", "message", "reference"}
    unavailable      503 {"code": "fingerprint_unavailable", ...} with Retry-After
    throttled        429 {"detail"} with Retry-After (DRF's Throttled)

The bodies are the exceptions' own `detail`, so DRF's default exception handler gives the same
JSON; `exception_handler` below adds the project-wide shape {"code", "message", "errors"?} for
every other error and answers a database outage with a 503 (the reference project uses it).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status, throttling
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from risk.throttles import signup_network_throttle
from risk.verdict import (
    RETRY_AFTER_S,
    SignupThrottledError,
    Verdict,
    event_id_valid,
    signup_account_failed,
    signup_account_record,
    signup_verdict,
)

logger = logging.getLogger(__name__)

NOT_AN_EVENT_ID = "Not a Fingerprint event id."


class SignupDenied(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "signup_denied"

    def __init__(self, verdict: Verdict) -> None:
        # Which rule fired is for staff only: telling a bot helps it adapt.
        super().__init__(
            {
                "code": "signup_denied",
                "message": "We could not create your account.",
                "reference": verdict.reference,
            }
        )


class FingerprintUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "fingerprint_unavailable"

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(
            {
                "code": "fingerprint_unavailable",
                "message": "We could not verify your device right now. Try again shortly.",
                "reference": verdict.reference,
            }
        )
        self.wait = verdict.retry_after  # DRF's handler sends it as Retry-After


class SignupNetworkThrottle(throttling.BaseThrottle):
    """SIGNUP_THROTTLE_RATE before the request body is even parsed (the verdict counts each
    signup once, so a view with this throttle is not counted twice)."""

    def allow_request(self, request, view) -> bool:
        try:
            signup_network_throttle(request)
        except SignupThrottledError as exc:
            self._wait = exc.retry_after
            return False
        return True

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


def event_id_validator(value: str) -> None:
    if not event_id_valid(value):
        raise serializers.ValidationError(NOT_AN_EVENT_ID, code="invalid_event_id")


@extend_schema_field({"type": "string", "pattern": r"^[0-9]{10,16}\.[A-Za-z0-9]{4,16}$"})
class EventIdField(serializers.CharField):
    """A Fingerprint event id: its shape is checked here, so a made-up one costs no call."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("validators", [event_id_validator])
        super().__init__(**kwargs)


class FingerprintSignupMixin(serializers.Serializer):
    """Put it first among a registration serializer's bases (see the module doc). After
    `save()`, `fingerprint_verdict` holds the verdict."""

    event_id = EventIdField(
        help_text="The event id the Fingerprint agent returned for it", write_only=True
    )
    sealed_result = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=65536, write_only=True
    )

    # Which endpoint the attempt records (the console shows it).
    fingerprint_endpoint = "signup"
    fingerprint_verdict: Verdict | None = None

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        # `requestId`: the seed quickstart's name, on a serializer that declares it instead.
        event_id = attrs.pop("event_id", None) or attrs.pop("requestId", "")
        request = self.context["request"]
        try:
            verdict = signup_verdict(
                request,
                event_id=event_id,
                username=str(attrs.get("username") or attrs.get("email") or ""),
                email=str(attrs.get("email", "")),
                sealed_result=attrs.pop("sealed_result", ""),
                endpoint=self.fingerprint_endpoint,
            )
        except SignupThrottledError as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from exc
        if verdict.denied:
            if verdict.retry_after is not None:
                raise FingerprintUnavailable(verdict)
            raise SignupDenied(verdict)
        self.fingerprint_verdict = verdict
        return attrs

    def save(self, *args, **kwargs):
        # *args: dj-rest-auth's RegisterSerializer.save(request) takes the request.
        verdict = self.fingerprint_verdict
        if verdict is None:
            raise AssertionError("call is_valid() before save()")
        try:
            with transaction.atomic():  # the account and its link: never one without the other
                account = super().save(*args, **kwargs)
                signup_account_record(verdict, account=account)
        except Exception as exc:
            reason = "username_taken" if isinstance(exc, UsernameTaken) else "account_failed"
            _account_failed(verdict, reason=reason)
            raise
        return account


class UsernameTaken(serializers.ValidationError):
    """Raise it from `create()` when the username went to a concurrent signup after
    validation (the unique constraint said so): a 400 on the field, and the attempt records
    why no account came of it."""

    def __init__(self, message: str = "This username is already taken.", field: str = "username"):
        super().__init__({field: [serializers.ErrorDetail(message, code="username_taken")]})


def _account_failed(verdict: Verdict, *, reason: str) -> None:
    """Tell risk the account was not created; the database may be what failed, for this too:
    the client's retry is then answered with the same verdict (risk.verdict)."""
    try:
        signup_account_failed(verdict, reason=reason)
    except DatabaseError:
        logger.exception("signup %s: account not created, slot not released", verdict.reference)


# --- the error shape ------------------------------------------------------------------------

_TOP_LEVEL_CODES = {
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
    exceptions.NotFound: "not_found",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotAuthenticated: "not_authenticated",
}


def exception_handler(exc, context):
    """Every error as {"code", "message", "errors"?, "reference"?}; `code` is stable and
    documented (docs/api.md), `message` is for humans."""
    if isinstance(exc, OperationalError | InterfaceError):
        # PostgreSQL restarting, failing over or refusing connections, a connection killed:
        # a temporary failure of ours, said as one (each request's transactions are all or
        # nothing, so a retry starts clean). Constraint and data errors are not these.
        logger.error("temporary database failure during %s: %s", context["request"].path, exc)
        return Response(
            {
                "code": "database_unavailable",
                "message": "We could not process this right now. Try again shortly.",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    # Django's own two, as DRF's handler reads them (`?format=xml` raises Http404).
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: Django's 500 handling
    if isinstance(exc, exceptions.ValidationError):
        details = exc.get_full_details()
        if not isinstance(details, dict):
            details = {"non_field_errors": details}
        response.data = {
            "code": "invalid_input",
            "message": "Some fields are missing or invalid.",
            "errors": {field: _flatten(errors) for field, errors in details.items()},
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    if isinstance(exc.detail, dict) and "code" in exc.detail:
        return response  # already in the shape (SignupDenied, FingerprintUnavailable)
    code = next(
        (value for cls, value in _TOP_LEVEL_CODES.items() if isinstance(exc, cls)),
        getattr(exc, "default_code", "error"),
    )
    return Response(
        {"code": code, "message": str(exc.detail)},
        status=response.status_code,
        headers=dict(response.items()),
    )


def _flatten(errors) -> list[dict]:
    if isinstance(errors, dict) and "code" in errors and "message" in errors:
        return [{"code": errors["code"], "message": str(errors["message"])}]
    if isinstance(errors, list):
        return [item for error in errors for item in _flatten(error)]
    if isinstance(errors, dict):  # nested serializer
        return [item for error in errors.values() for item in _flatten(error)]
    return [{"code": "invalid", "message": str(errors)}]


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error (schema documentation): {"code", "message", "errors"?, "reference"?}."""

    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=ErrorDetailSerializer()), required=False
    )
    reference = serializers.CharField(required=False)
