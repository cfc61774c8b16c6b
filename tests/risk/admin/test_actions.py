"""risk/admin/actions.py: bulk decisions from the queue's action bar."""

import pytest
from django.contrib.auth import get_user_model

from risk.models import ReviewDecision
from tests.support.review import empty_cache, signup  # noqa: F401

User = get_user_model()

pytestmark = pytest.mark.django_db


QUEUE = "/admin/risk/signupattempt/"


def test_bulk_actions_from_the_queue(reviewer_client, sandbox):
    _, a = signup(sandbox, "tor")
    _, b = signup(sandbox, "tor")
    response = reviewer_client.post(
        QUEUE,
        {
            "action": "reject_attempts",
            "_selected_action": [a.pk, b.pk],
            "reason": "multi_accounting",
            "note": "same person",
        },
    )
    assert response.status_code == 302
    assert ReviewDecision.objects.filter(action="reject", reason="multi_accounting").count() == 2
    assert not User.objects.filter(pk__in=[a.account_id, b.account_id], is_active=True).exists()

    # a reason of another action is refused for every row, nothing written
    _, c = signup(sandbox, "tor")
    reviewer_client.post(
        QUEUE, {"action": "approve_attempts", "_selected_action": [c.pk], "reason": "bot"}
    )
    assert ReviewDecision.objects.count() == 2
