"""risk/admin/feedback.py: the suspect feedback in the console, read-only, found by event id or by
the decision that caused it."""

import pytest

from tests.support.feedback import decide, event_of, report_of, send_owed
from tests.support.review import make_reviewer, signup


@pytest.fixture
def reviewer(db):
    return make_reviewer("rita")


@pytest.mark.django_db
def test_reviewers_see_the_feedback_read_only_on_the_evidence_page_and_in_the_console(
    sandbox, reviewer, client
):
    _, attempt = signup(sandbox, "tor")
    decision = decide(reviewer, "reject", attempt=attempt)
    send_owed()
    client.force_login(reviewer)
    page = client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/").content.decode()
    assert 'id="suspect-feedback"' in page and event_of(attempt) in page
    listing = client.get("/admin/risk/suspectreport/", {"q": event_of(attempt)})
    assert listing.status_code == 200 and event_of(attempt) in listing.content.decode()
    by_decision = client.get("/admin/risk/suspectreportlog/", {"q": f"#{decision.pk}"})
    assert by_decision.status_code == 200 and event_of(attempt) in by_decision.content.decode()
    detail = client.get(f"/admin/risk/suspectreport/{report_of(attempt).pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/risk/suspectreport/add/").status_code == 403


@pytest.mark.django_db
def test_both_lists_are_searched_by_event_id_or_by_decision(sandbox, reviewer, client):
    _, attempt = signup(sandbox, "tor")
    _, other = signup(sandbox, "tor", username="other")
    decision = decide(reviewer, "reject", attempt=attempt)
    decide(reviewer, "reject", attempt=other)
    send_owed()
    client.force_login(reviewer)
    for listing in ("/admin/risk/suspectreport/", "/admin/risk/suspectreportlog/"):
        for term in (event_of(attempt), f"#{decision.pk}"):
            page = client.get(listing, {"q": term}).content.decode()
            assert event_of(attempt) in page and event_of(other) not in page, (listing, term)
