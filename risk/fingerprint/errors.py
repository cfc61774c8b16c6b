"""One small exception hierarchy for everything that can go wrong talking to Fingerprint.

Messages carry the HTTP status and Fingerprint's error code, never the request headers, so
the secret key cannot leak into logs or API responses through an exception.
"""


class FingerprintError(Exception):
    """Base class. `status` is the HTTP status (None for network errors), `code` Fingerprint's."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class NotFoundError(FingerprintError):
    """The event (or visitor) does not exist: for a signup, a likely forged identifier."""


class AuthError(FingerprintError):
    """Wrong or missing secret key, wrong region, inactive subscription: a configuration error."""


class RequestError(FingerprintError):
    """Fingerprint could not parse our request (400)."""


class UnavailableError(FingerprintError):
    """Fingerprint is down, slow (timeout) or answered 5xx: retry later."""


class RateLimitedError(UnavailableError):
    """Fingerprint answered 429: our key's quota is exhausted for now."""


NOT_FOUND = "not_found"
UNAVAILABLE = "unavailable"


def fetch_failure(exc: FingerprintError) -> str:
    """What a failed event fetch means for us: `not_found` (Fingerprint does not know the id,
    or cannot even parse it: as forged as a 404; final, never worth asking again) or
    `unavailable` (down, slow, rate limited, or our credentials refused: worth retrying)."""
    if isinstance(exc, NotFoundError | RequestError):
        return NOT_FOUND
    return UNAVAILABLE
