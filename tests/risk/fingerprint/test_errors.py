"""risk/fingerprint/errors.py: one meaning for each error talking to Fingerprint."""

import pytest

from risk.fingerprint import errors


@pytest.mark.parametrize(
    ("exc", "meaning"),
    [
        (errors.NotFoundError("404", status=404), "not_found"),
        (errors.RequestError("400", status=400), "not_found"),
        (errors.AuthError("403", status=403), "unavailable"),
        (errors.UnavailableError("503", status=503), "unavailable"),
        (errors.RateLimitedError("429", status=429), "unavailable"),
        (errors.FingerprintError("connection reset"), "unavailable"),
    ],
)
def test_one_meaning_for_each_fetch_error(exc, meaning):
    assert errors.fetch_failure(exc) == meaning
