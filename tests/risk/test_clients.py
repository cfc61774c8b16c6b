"""risk/clients.py: one pooled client per process for each Fingerprint API, rebuilt when the
settings it was built from change (a rotated key takes effect without a restart)."""

import pytest

from risk.clients import drn_client, fingerprint_client
from risk.fingerprint.errors import AuthError
from tests.conftest import SANDBOX_KEY


def test_the_server_api_client_is_shared_until_its_settings_change(sandbox, settings):
    event = sandbox.create_event(profile="human")
    client = fingerprint_client()
    assert fingerprint_client() is client  # one pooled client for every caller
    assert client.get_event(event["event_id"]).event_id == event["event_id"]

    settings.FINGERPRINT_SECRET_API_KEY = "rotated-key"
    rotated = fingerprint_client()
    assert rotated is not client and rotated.api_url == sandbox.base_url
    with pytest.raises(AuthError):  # built with the new key: the sandbox does not know it
        rotated.get_event(event["event_id"])

    settings.FINGERPRINT_SECRET_API_KEY = SANDBOX_KEY
    assert fingerprint_client() is client  # back to the first settings: the first client
    settings.FINGERPRINT_API_VERSION = "v3"
    assert fingerprint_client().api_version == "v3"


def test_one_drn_budget_per_key(sandbox, settings):
    settings.FINGERPRINT_DRN_RPS = 7
    first = drn_client()
    assert drn_client() is first and first.limiter.rate == 7
    settings.FINGERPRINT_SECRET_API_KEY = "another-key"
    other = drn_client()
    assert other is not first and other.limiter is not first.limiter  # another key's quota
    settings.FINGERPRINT_SECRET_API_KEY = SANDBOX_KEY
    settings.FINGERPRINT_DRN_RPS = 9
    assert drn_client().limiter.rate == 9
