"""risk/verdict.py: the public entry's event id check and verdicts."""

import pytest

from accounts.serializers import CreateAccountSerializer, SignupSerializer
from risk.verdict import event_id_valid
from tests.conftest import vendor_fixture
from tests.support.upstream import post

pytestmark = pytest.mark.django_db


def test_fingerprint_id_shapes_are_accepted():
    """Every id shape in the vendor's examples and the sandbox's (v4 event_id, v3 requestId)."""
    ids = {
        vendor_fixture("v4_get_event_200.json")["event_id"],
        vendor_fixture("v3_get_event_200.json")["products"]["identification"]["data"]["requestId"],
        vendor_fixture("v3_webhook.json")["requestId"],  # the 20-character form
        "1732000000000.aNdr01",
    }
    for event_id in ids:
        assert event_id_valid(event_id), event_id
        for serializer in (SignupSerializer(), CreateAccountSerializer()):
            name = "requestId" if "requestId" in serializer.fields else "event_id"
            assert serializer.fields[name].run_validation(event_id) == event_id


def test_sandbox_event_ids_are_accepted(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert post(event["event_id"]).status_code == 201
