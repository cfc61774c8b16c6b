"""risk/templatetags/suspect_feedback.py: the evidence page's panel of what the decisions told
Fingerprint, shown only when they told it something."""

import pytest
from django.template import Context, Template

from tests.support.feedback import decide, event_of, send_owed
from tests.support.review import make_reviewer, signup


@pytest.fixture
def reviewer(db):
    return make_reviewer("rita")


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
