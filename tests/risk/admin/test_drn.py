"""risk/admin/drn.py: DRN lookups and rescoring results, read-only evidence in the console."""

import pytest
from django.urls import reverse

from risk.models import Device, DrnSnapshot, Reassessment, SignupAttempt
from tests.support.review import empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_client(client):
    client.force_login(make_reviewer())
    return client


def test_drn_lookups_by_exact_visitor_id_and_status(reviewer_client):
    device = Device.objects.create(visitor_id="DrnAdminVisitor00001", platform="android")
    ok = DrnSnapshot.objects.create(device=device, visitor_id=device.visitor_id, status="ok")
    DrnSnapshot.objects.create(device=device, visitor_id=device.visitor_id, status="error")
    other = Device.objects.create(visitor_id="DrnAdminVisitor00002", platform="android")
    DrnSnapshot.objects.create(device=other, visitor_id=other.visitor_id, status="ok")
    lookups = "/admin/risk/drnsnapshot/"

    def shown(query):
        return {s.pk for s in reviewer_client.get(f"{lookups}?{query}").context["cl"].result_list}

    assert len(shown("")) == 3
    assert shown(f"q={device.visitor_id}&status__exact=ok") == {ok.pk}
    assert shown("q=DrnAdminVisitor") == set()
    page = reviewer_client.get(reverse("admin:risk_drnsnapshot_change", args=[ok.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_reassessments_are_listed_and_never_edited(client):
    attempt = SignupAttempt.objects.create(username="rescored", event_id="e1", decision="allow")
    row = Reassessment.objects.create(
        attempt=attempt, run_id="run-1", previous_decision="allow", decision="review"
    )
    admin = make_reviewer("boss")
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    listing = client.get("/admin/risk/reassessment/?decision__exact=review")
    assert list(listing.context["cl"].result_list) == [row]
    url = reverse("admin:risk_reassessment_change", args=[row.pk])
    assert client.post(url, {"decision": "deny"}).status_code == 403  # even for a superuser
    row.refresh_from_db()
    assert row.decision == "review"
    assert client.get(reverse("admin:risk_reassessment_add")).status_code == 403
