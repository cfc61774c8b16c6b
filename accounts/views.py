"""The signup API: validate (risk's verdict included), save, answer."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import (
    AccountSerializer,
    CreateAccountSerializer,
    SignupCreatedSerializer,
    SignupSerializer,
)
from risk.integrations.drf import ErrorSerializer, SignupNetworkThrottle
from risk.parsers import BoundedJSONParser


class SignupView(APIView):
    """POST /api/signup: create an account if Fingerprint says the device may have one."""

    serializer_class = SignupSerializer
    parser_classes = [BoundedJSONParser]  # 413 over SIGNUP_MAX_BODY_BYTES, before reading
    throttle_classes = [SignupNetworkThrottle]  # before parsing: a flood is refused cheaply

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
                description="Too many signups from this network or device (throttled)",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="Fingerprint unavailable and policy is deny "
                "(fingerprint_unavailable), or the database unavailable (database_unavailable); "
                "Retry-After says when to try again",
            ),
        },
    )
    def post(self, request):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        account = serializer.save()
        verdict = serializer.fingerprint_verdict
        return Response(
            {
                "status": "created" if verdict.account_active else "pending_review",
                "account": AccountSerializer(account).data,
                "reference": verdict.reference,
            },
            status=status.HTTP_201_CREATED,
        )


class CreateAccountView(SignupView):
    """POST /api/create-account: the seed quickstart's endpoint (`requestId` for `event_id`)."""

    serializer_class = CreateAccountSerializer
