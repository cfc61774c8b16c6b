"""Request bodies with a size cap: an anonymous endpoint must not read whatever it is sent."""

from rest_framework import renderers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser, get_encoding

from risk.fingerprint.parsing import strict_json_loads

# The largest valid signup is a 64 KiB sealed result plus a few short fields; 256 KiB leaves
# room for JSON escapes and is still nothing to hold in memory.
SIGNUP_MAX_BODY_BYTES = 256 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def announced_length(meta) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def read_bounded(stream, *, limit: int) -> bytes:
    """At most `limit` bytes of `stream`; PayloadTooLarge if there are more (reads one past)."""
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


class BoundedJSONParser(BaseParser):
    """JSON, refused with 413 before reading when the announced length is over the cap, and
    read at most one byte past it otherwise (bodies without a length).

    Not a JSONParser subclass on purpose: DRF reads `request.body` whole for those before the
    parser runs (and Django answers an HTML 400 past DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    max_bytes = SIGNUP_MAX_BODY_BYTES

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        if request is not None and announced_length(request.META) > self.max_bytes:
            raise PayloadTooLarge()
        body = read_bounded(stream, limit=self.max_bytes)
        try:
            return strict_json_loads(body.decode(get_encoding(parser_context)))
        except ValueError as exc:  # includes UnicodeDecodeError and too deep nesting
            raise ParseError(f"JSON parse error - {exc}") from exc
