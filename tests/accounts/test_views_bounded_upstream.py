"""POST /api/signup uses Fingerprint sparingly: a malformed id is refused before any Server API
call, a well-formed made-up one costs exactly one. The Server API is a counting stand-in or the
sandbox over real HTTP."""

import pytest

from risk.models import SignupAttempt
from tests.support.upstream import post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "event_id",
    [
        "forged",
        "1.a",
        "1700000000000",  # no random part
        "1700000000000.",
        "1700000000000.abc/ef",
        "1700000000000.abcdef.x",
        "../../v4/events",
        "a" * 64,
        "Px6VxbRC6WBkA39yeNH",  # 19: one short of the 20-character form
        "1700000000000.abcdéf",
    ],
)
@pytest.mark.parametrize(
    ("path", "field"), [("/api/signup", "event_id"), ("/api/create-account", "requestId")]
)
def test_malformed_event_id_is_400_before_any_upstream_call(counting_api, event_id, path, field):
    response = post(event_id, path=path, field=field)
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["code"] == "invalid_event_id"
    assert counting_api == []
    assert SignupAttempt.objects.count() == 0


def test_a_well_formed_made_up_id_costs_exactly_one_call(counting_api):
    response = post("1700000000000.madeUp")
    assert response.status_code == 403
    assert counting_api == ["/v4/events/1700000000000.madeUp"]
    assert SignupAttempt.objects.get().reasons == ["event_not_found"]


# --- item 2: the username check uses the Lower(username) index ---------------------------------


# --- the signup body is capped too (an anonymous endpoint) ------------------------------------
