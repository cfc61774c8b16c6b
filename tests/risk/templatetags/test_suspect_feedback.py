"""risk/templatetags/suspect_feedback.py: the evidence page's panel of what the decisions told
Fingerprint, shown only when they told it something."""

import pytest
from django.template import Context, Template

from risk.services import feedback
from risk.services.review import review_decide
from tests.support.review import make_reviewer, signup


@pytest.fixture
def reviewer(db):
    return make_reviewer("rita")


def decide(reviewer, action: str, *, attempt=None, device=None):
    reason = {
        "approve": "legitimate_user",
        "reject": "fake_identity",
        "block_device": "account_farm",
        "unblock_device": "blocked_by_mistake",
        "trust_device": "shared_device",
    }[action]
    return review_decide(
        actor=reviewer, action=action, reason=reason, attempt=attempt, device=device
    )


def event_of(attempt) -> str:
    return attempt.fingerprint_event.event_id


def send_owed() -> dict:
    """`manage.py send_suspect_feedback`, the way without a broker."""
    return dict(feedback.suspect_feedback_send_owed())


@pytest.mark.django_db
def test_an_attempt_with_no_feedback_shows_no_panel(sandbox, reviewer, client):
    _, attempt = signup(sandbox, "tor")
    client.force_login(reviewer)
    page = client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/").content.decode()
    assert 'id="suspect-feedback"' not in page


@pytest.mark.django_db
def test_the_panel_says_what_was_wanted_what_fingerprint_has_and_why(sandbox, reviewer):
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    panel = Template("{% load suspect_feedback %}{% suspect_feedback_panel attempt %}")
    owed = panel.render(Context({"attempt": attempt}))
    assert event_of(attempt) in owed and "wanted <strong>yes</strong>" in owed
    assert "Fingerprint has nothing from us" in owed and "Reject by rita" in owed
    send_owed()
    sent = panel.render(Context({"attempt": attempt}))
    assert "Fingerprint has yes" in sent and '<span class="rv-code">sent</span>' in sent
