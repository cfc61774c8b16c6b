"""risk/admin/allowlist.py: the allowlist edited in the console, every edit validated and
audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from risk.models import AllowlistChange, AllowlistEntry, AllowlistKind, SignupAttempt
from tests.support.allowlist import add, behind_one_proxy, sign_up  # noqa: F401

pytestmark = pytest.mark.django_db


PASSWORD = "correct-horse-battery-9"


def test_console_edits_are_validated_and_audited(client, sandbox):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(admin)
    url = "/admin/risk/allowlistentry/add/"
    bad = client.post(url, {"kind": "network", "value": "not-a-range", "note": "lab"})
    assert bad.status_code == 200 and "is not an IP address or range" in bad.text
    assert not AllowlistEntry.objects.exists()

    added = client.post(url, {"kind": "network", "value": "91.64.10.7", "note": "lab"})
    assert added.status_code == 302
    entry = AllowlistEntry.objects.get()
    assert entry.value == "91.64.10.7/32" and entry.created_by == admin
    delete = f"/admin/risk/allowlistentry/{entry.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 302
    changes = list(AllowlistChange.objects.order_by("pk").values_list("action", "value", "actor"))
    assert changes == [("added", "91.64.10.7/32", admin.pk), ("removed", "91.64.10.7/32", admin.pk)]

    # The evidence page says which entry covered a signup.
    add(AllowlistKind.NETWORK, "91.64.10.0/24", note="QA lab Berlin")
    sign_up(sandbox, "seen")
    attempt = SignupAttempt.objects.get(username="seen")
    page = client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/")
    assert "QA lab Berlin" in page.text and 'id="allowlist"' in page.text


def test_an_expiry_in_the_past_is_refused(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", PASSWORD))
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    page = client.post(
        "/admin/risk/allowlistentry/add/",
        {
            "kind": "asn",
            "value": "AS64500",
            "note": "partner",
            "expires_at_0": past,
            "expires_at_1": "10:00:00",
        },
    )
    assert page.status_code == 200 and "Pick a time in the future" in page.text
    assert not AllowlistEntry.objects.exists() and not AllowlistChange.objects.exists()


def test_the_change_log_is_read_only_even_for_a_superuser(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", PASSWORD))
    entry = add(AllowlistKind.ASN, "AS64500", note="partner")
    change = AllowlistChange.objects.get(entry_id=entry.pk)
    log = client.get("/admin/risk/allowlistchange/?action=added")
    assert list(log.context["cl"].result_list) == [change]
    url = f"/admin/risk/allowlistchange/{change.pk}/change/"
    assert client.post(url, {"note": "rewritten"}).status_code == 403
    assert client.get("/admin/risk/allowlistchange/add/").status_code == 403
    change.refresh_from_db()
    assert change.note == "partner"
