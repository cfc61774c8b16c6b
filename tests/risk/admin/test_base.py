"""risk/admin/base.py: evidence is read-only for everyone, and odd ids or filters in console URLs
are never a 500."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from risk.models import FingerprintEvent, ReviewDecision
from risk.services.review import review_decide
from tests.support.review import empty_cache  # noqa: F401

User = get_user_model()

pytestmark = pytest.mark.django_db


QUEUE = "/admin/risk/signupattempt/"


def test_reviewer_cannot_edit_snapshot_or_delete_audit_row(reviewer_client, reviewer, demo):
    snapshot = FingerprintEvent.objects.get(pk=demo["held"].fingerprint_event_id)
    url = reverse("admin:risk_fingerprintevent_change", args=[snapshot.pk])
    page = reviewer_client.get(url)
    assert page.status_code == 200  # view only
    assert b'name="_save"' not in page.content and b"deletelink" not in page.content
    response = reviewer_client.post(url, {"event_id": "forged", "raw": "{}"})
    assert response.status_code == 403
    assert FingerprintEvent.objects.get(pk=snapshot.pk).event_id == snapshot.event_id

    row = review_decide(
        actor=reviewer, action="approve", reason="legitimate_user", attempt=demo["held"]
    )
    delete_url = reverse("admin:risk_reviewdecision_delete", args=[row.pk])
    assert reviewer_client.get(delete_url).status_code == 403
    assert reviewer_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert ReviewDecision.objects.filter(pk=row.pk).exists()
    page = reviewer_client.get(reverse("admin:risk_reviewdecision_change", args=[row.pk]))
    assert page.status_code == 200 and b"deletelink" not in page.content


def test_audit_rows_and_snapshots_are_read_only_even_for_superusers(client, demo):
    admin = User.objects.create_superuser(username="root", password="x", email="r@example.com")
    client.force_login(admin)
    snapshot_id = demo["held"].fingerprint_event_id
    url = reverse("admin:risk_fingerprintevent_change", args=[snapshot_id])
    assert client.post(url, {"event_id": "forged"}).status_code == 403
    assert client.get(reverse("admin:risk_fingerprintevent_add")).status_code == 403
    row = review_decide(actor=admin, action="reject", reason="bot", attempt=demo["held"])
    assert (
        client.post(
            reverse("admin:risk_reviewdecision_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert ReviewDecision.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/risk/signupattempt/abc/change/",
        "/admin/risk/signupattempt/%C2%B2/change/",  # a superscript two: isdigit() says yes
        "/admin/risk/device/1x/change/",
        "/admin/risk/reviewdecision/?reviewer=%D9%A1%D9%A2",  # Arabic-Indic digits
        "/admin/risk/reviewdecision/?reviewer=%C2%B2",
        "/admin/risk/reviewdecision/?q=%C2%B2",
        "/admin/risk/reviewdecision/?q=%23%C2%B3",
        "/admin/risk/reviewdecision/?q=a%00b",
        "/admin/risk/signupattempt/?country=D%00E&status=all",
        "/admin/risk/signupattempt/?q=x%00y&status=all",
        "/admin/risk/signupattempt/?asn=%00",
        "/admin/risk/signupattempt/?domain=ex%00ample.com",
    ],
)
def test_odd_input_in_console_urls_is_never_a_500(reviewer_client, path):
    response = reviewer_client.get(path)
    assert response.status_code < 500, (path, response.status_code)
