"""risk/admin/decisions.py: the reviewers' audit log: filters, search and export."""

import csv
import io

import pytest
from django.urls import reverse

from risk.services.review import review_decide
from tests.support.review import empty_cache, held, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db


def test_audit_log_filters_search_and_export(alice_client, sandbox, alice):
    bob = make_reviewer("bob")
    a, b = held(sandbox, username="ann"), held(sandbox, username="ben")
    review_decide(
        actor=alice, action="approve", reason="legitimate_user", attempt=a, note="call ok"
    )
    review_decide(actor=bob, action="reject", reason="bot", attempt=b)
    audit = reverse("admin:risk_reviewdecision_changelist")

    def shown(query):
        return {
            d.attempt_id for d in alice_client.get(f"{audit}?{query}").context["cl"].result_list
        }

    assert shown(f"reviewer={bob.pk}") == {b.pk}
    assert shown("action__exact=approve") == {a.pk}
    assert shown("q=ben") == {b.pk}
    assert shown(f"q=%23{a.pk}") == {a.pk}
    assert shown("q=call") == {a.pk}
    assert shown("q=bot") == {b.pk}
    assert shown("when=24h") == {a.pk, b.pk}

    response = alice_client.get(reverse("admin:risk_reviewdecision_export") + f"?reviewer={bob.pk}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["reviewer"], r["action"], r["username"]) for r in rows] == [("bob", "reject", "ben")]
