"""The signup API: parse input, call one service, map the decision to an HTTP answer."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api_errors import RETRY_AFTER_S
from accounts.parsers import BoundedJSONParser
from accounts.serializers import (
    USERNAME_TAKEN,
    AccountSerializer,
    CreateAccountSerializer,
    ErrorSerializer,
    SignupCreatedSerializer,
    SignupSerializer,
)
from risk import rules
from risk.client_ip import request_client_ip
from risk.throttles import SignupIpThrottle, VisitorThrottledError


class SignupView(APIView):
    """POST /api/signup: create an account if Fingerprint says the device may have one."""

    serializer_class = SignupSerializer
    endpoint = "signup"
    throttle_classes = [SignupIpThrottle]
    parser_classes = [BoundedJSONParser]  # 413 over SIGNUP_MAX_BODY_BYTES, before reading

    @extend_schema(
        responses={
            201: OpenApiResponse(
                SignupCreatedSerializer,
                description="Account created: status `created`, or `pending_review` (inactive "
                "until a reviewer approves it, or until Fingerprint confirms the event)",
            ),
            400: OpenApiResponse(
                ErrorSerializer,
                description="Invalid input (invalid_input, parse_error); nothing was written",
            ),
            403: OpenApiResponse(ErrorSerializer, description="Signup denied (signup_denied)"),
            413: OpenApiResponse(
                ErrorSerializer, description="Body over 256 KiB (payload_too_large)"
            ),
            415: OpenApiResponse(ErrorSerializer, description="Not application/json"),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many signups from this IP or device (throttled)",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="Fingerprint unavailable and policy is deny "
                "(fingerprint_unavailable), or the database unavailable (database_unavailable); "
                "Retry-After says when to try again",
            ),
        }
    )
    def post(self, request):
        return signup_answer(
            request, request.data, serializer_class=self.serializer_class, endpoint=self.endpoint
        )


class CreateAccountView(SignupView):
    """POST /api/create-account: the seed quickstart's endpoint (`requestId` for `event_id`)."""

    serializer_class = CreateAccountSerializer
    endpoint = "create-account"


def signup_answer(request, data, *, serializer_class, endpoint: str) -> Response:
    """The signup endpoints' work, for the DRF views and for the fast path in front of them
    (accounts/fast_path.py): validate `data`, call the service, map its decision to an answer.
    Errors are raised as DRF exceptions, which accounts.api_errors turns into answers."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        result = services.account_signup(
            username=data["username"],
            password=data["password"],
            email=data.get("email", ""),
            event_id=data["event_id"],
            client_ip=request_client_ip(request),
            origin=request.headers.get("Origin", ""),
            endpoint=endpoint,
            sealed_result=data.get("sealed_result", ""),
        )
    except VisitorThrottledError as exc:
        raise exceptions.Throttled(wait=exc.retry_after) from exc
    except services.UsernameTakenError as exc:
        # The same 400 as the serializer's check, which a concurrent signup got past.
        raise serializers.ValidationError(
            {"username": [serializers.ErrorDetail(USERNAME_TAKEN, code="username_taken")]}
        ) from exc
    attempt = result.attempt
    if attempt.decision == rules.DENY:
        if rules.is_temporary(attempt.reasons):
            return Response(
                {
                    "code": "fingerprint_unavailable",
                    "message": "We could not verify your device right now. Try again shortly.",
                    "reference": attempt.reference,
                },
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        # Which rule fired is for staff only: telling a bot helps it adapt.
        return Response(
            {
                "code": "signup_denied",
                "message": "We could not create your account.",
                "reference": attempt.reference,
            },
            status=status.HTTP_403_FORBIDDEN,
        )
    return Response(
        {
            "status": "created" if attempt.decision == rules.ALLOW else "pending_review",
            "account": AccountSerializer(result.account).data,
            "reference": attempt.reference,
        },
        status=status.HTTP_201_CREATED,
    )
