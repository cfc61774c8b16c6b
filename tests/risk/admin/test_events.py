"""risk/admin/events.py: raw event snapshots, read-only, found by an exact id, shown in full."""

import pytest
from django.urls import reverse

from risk.models import FingerprintEvent
from tests.support.review import empty_cache  # noqa: F401

pytestmark = pytest.mark.django_db
EVENTS = "/admin/risk/fingerprintevent/"


@pytest.fixture
def events():
    raw = {"event_id": "1700000000000.aaaaaa", "note": "<b>kept as text</b>"}
    bad = FingerprintEvent.objects.create(
        event_id="1700000000000.aaaaaa", visitor_id="BadBotVisitor0000001", bot="bad", raw=raw,
        platform="js",
    )  # fmt: skip
    good = FingerprintEvent.objects.create(
        event_id="1700000000000.bbbbbb", visitor_id="PhoneVisitor00000001", bot="not_detected",
        raw={"event_id": "1700000000000.bbbbbb"}, platform="android",
    )  # fmt: skip
    return bad, good


def shown(client, query: str) -> set[str]:
    page = client.get(f"{EVENTS}?{query}")
    assert page.status_code == 200
    return {event.event_id for event in page.context["cl"].result_list}


def test_search_by_exact_event_or_visitor_id_and_filters(reviewer_client, events):
    bad, good = events
    assert shown(reviewer_client, f"q={bad.event_id}") == {bad.event_id}
    assert shown(reviewer_client, f"q={good.visitor_id}") == {good.event_id}
    assert shown(reviewer_client, "q=1700000000000") == set()  # exact ids only
    assert shown(reviewer_client, "bot=bad") == {bad.event_id}
    assert shown(reviewer_client, "platform=android") == {good.event_id}


def test_the_snapshot_page_shows_the_raw_json_escaped(reviewer_client, events):
    bad, _ = events
    page = reviewer_client.get(reverse("admin:risk_fingerprintevent_change", args=[bad.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'class="rv-json"' in html
    assert "&lt;b&gt;kept as text&lt;/b&gt;" in html and "<b>kept as text</b>" not in html
