"""Fingerprint webhook receiver: events pushed by Fingerprint are stored like fetched ones."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from risk import services
from risk.conf import risk_settings
from risk.fingerprint.events import EventFormatError
from risk.fingerprint.webhooks import webhook_signature_valid


class RawBodyParser(BaseParser):
    """Keep the exact bytes: the signature is computed over them."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class FingerprintWebhookView(APIView):
    """POST /api/fingerprint/webhook: verify `FPJS-Event-Signature`, store the event."""

    parser_classes = [RawBodyParser]

    @extend_schema(
        request={"application/json": dict},
        responses={
            200: OpenApiResponse(description="Event stored"),
            400: OpenApiResponse(description="Not a Fingerprint event (invalid_event)"),
            401: OpenApiResponse(description="Bad signature (invalid_signature)"),
            404: OpenApiResponse(description="Webhook disabled (webhook_disabled)"),
        },
    )
    def post(self, request):
        secret = risk_settings().webhook_secret
        if not secret:
            return Response(
                {"code": "webhook_disabled", "message": "FINGERPRINT_WEBHOOK_SECRET is not set."},
                status=status.HTTP_404_NOT_FOUND,
            )
        body = request.data if isinstance(request.data, bytes) else b""
        header = request.headers.get("FPJS-Event-Signature", "")
        if not webhook_signature_valid(header=header, body=body, secret=secret):
            return Response(
                {"code": "invalid_signature", "message": "Signature does not match."},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        try:
            snapshot = services.event_webhook_store(body=body)
        except EventFormatError as exc:
            return Response(
                {"code": "invalid_event", "message": str(exc)}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response({"event_id": snapshot.event_id}, status=status.HTTP_200_OK)
