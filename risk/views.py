"""Fingerprint webhook receiver: events pushed by Fingerprint are stored like fetched ones."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from risk.conf import risk_settings
from risk.fingerprint.events import EventFormatError
from risk.fingerprint.webhooks import webhook_signature_valid
from risk.integrations.drf import ErrorSerializer, exception_handler
from risk.parsers import PayloadTooLarge, announced_length, read_bounded
from risk.services.webhooks import event_webhook_store


def webhook_max_bytes() -> int:
    """FINGERPRINT_WEBHOOK_MAX_BYTES: Fingerprint's events are a few KiB (tens with
    raw_device_attributes); more is not one of them."""
    return risk_settings().webhook_max_bytes


class RawBodyParser(BaseParser):
    """Keep the exact bytes (the signature is computed over them), at most the cap: a body
    without Content-Length (chunked) is read up to one byte past it, then refused."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return read_bounded(stream, limit=webhook_max_bytes())


class FingerprintWebhookView(APIView):
    """POST /api/fingerprint/webhook: verify `FPJS-Event-Signature`, store the event."""

    parser_classes = [RawBodyParser]
    authentication_classes: list = []  # Fingerprint signs its calls; no session, no CSRF
    permission_classes: list = []

    def get_exception_handler(self):
        return exception_handler  # the documented error shape, whatever the host's handler

    @extend_schema(
        request={"application/json": dict},
        responses={
            200: OpenApiResponse(
                inline_serializer("WebhookStored", {"event_id": serializers.CharField()}),
                description="Event stored",
            ),
            400: OpenApiResponse(ErrorSerializer, description="Not a Fingerprint event"),
            401: OpenApiResponse(ErrorSerializer, description="Bad signature (invalid_signature)"),
            404: OpenApiResponse(ErrorSerializer, description="Webhook off (webhook_disabled)"),
            413: OpenApiResponse(ErrorSerializer, description="Over the cap (payload_too_large)"),
        },
    )
    def post(self, request):
        secret = risk_settings().webhook_secret
        if not secret:
            return Response(
                {"code": "webhook_disabled", "message": "FINGERPRINT_WEBHOOK_SECRET is not set."},
                status=status.HTTP_404_NOT_FOUND,
            )
        # Refuse an announced oversize body before reading a byte of it (the parser bounds
        # bodies that announce no length).
        if announced_length(request.META) > webhook_max_bytes():
            raise PayloadTooLarge()
        body = request.data if isinstance(request.data, bytes) else b""
        header = request.headers.get("FPJS-Event-Signature", "")
        if not webhook_signature_valid(header=header, body=body, secret=secret):
            return Response(
                {"code": "invalid_signature", "message": "Signature does not match."},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        try:
            snapshot = event_webhook_store(body=body)
        except EventFormatError as exc:
            return Response(
                {"code": "invalid_event", "message": str(exc)}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response({"event_id": snapshot.event_id}, status=status.HTTP_200_OK)
