"""The signup API: parse input, call one service, map the decision to an HTTP answer."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.serializers import AccountSerializer, CreateAccountSerializer, SignupSerializer
from risk import rules
from risk.client_ip import client_ip_from_meta
from risk.conf import risk_settings

RETRY_AFTER_S = 5


class SignupView(APIView):
    """POST /api/signup: create an account if Fingerprint says the device may have one."""

    serializer_class = SignupSerializer
    endpoint = "signup"
    throttle_scope = "signup"

    @extend_schema(
        responses={
            201: OpenApiResponse(
                description="Account created: status `created`, or `pending_review` (inactive "
                "until a reviewer approves it, or until Fingerprint confirms the event)"
            ),
            400: OpenApiResponse(description="Invalid input; nothing was written"),
            403: OpenApiResponse(description="Signup denied (code signup_denied)"),
            503: OpenApiResponse(description="Fingerprint unavailable and policy is deny"),
        }
    )
    def post(self, request):
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = services.account_signup(
                username=data["username"],
                password=data["password"],
                email=data.get("email", ""),
                event_id=data["event_id"],
                client_ip=client_ip_from_meta(
                    request.META, trusted_proxy_count=risk_settings().trusted_proxy_count
                ),
                origin=request.headers.get("Origin", ""),
                endpoint=self.endpoint,
                sealed_result=data.get("sealed_result", ""),
            )
        except services.UsernameTakenError:
            return Response(
                {
                    "code": "invalid_input",
                    "message": "Some fields are missing or invalid.",
                    "errors": {
                        "username": [
                            {"code": "username_taken", "message": "This username is already taken."}
                        ]
                    },
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        attempt = result.attempt
        if attempt.decision == rules.DENY:
            if rules.is_temporary(attempt.reasons):
                return Response(
                    {
                        "code": "fingerprint_unavailable",
                        "message": "We could not verify your device right now. Try again shortly.",
                        "reference": attempt.pk,
                    },
                    status=status.HTTP_503_SERVICE_UNAVAILABLE,
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            # Which rule fired is for staff only: telling a bot helps it adapt.
            return Response(
                {
                    "code": "signup_denied",
                    "message": "We could not create your account.",
                    "reference": attempt.pk,
                },
                status=status.HTTP_403_FORBIDDEN,
            )
        return Response(
            {
                "status": "created" if attempt.decision == rules.ALLOW else "pending_review",
                "account": AccountSerializer(result.account).data,
                "reference": attempt.pk,
            },
            status=status.HTTP_201_CREATED,
        )


class CreateAccountView(SignupView):
    """POST /api/create-account: the seed quickstart's endpoint (`requestId` for `event_id`)."""

    serializer_class = CreateAccountSerializer
    endpoint = "create-account"
