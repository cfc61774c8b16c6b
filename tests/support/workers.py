"""What a real Celery worker needs to ask the test sandbox instead of Fingerprint."""

from tests.conftest import SANDBOX_KEY


def worker_env(sandbox_server) -> dict:
    """The worker's Server API settings: the sandbox, and no retries."""
    return {
        "FINGERPRINT_API_URL": sandbox_server.url,
        "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY,
        "FINGERPRINT_MAX_RETRIES": "0",
    }
