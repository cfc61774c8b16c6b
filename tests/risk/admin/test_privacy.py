"""risk/admin/privacy.py: erasure from the console, for superusers, after a page that lists every
row."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from risk.models import (
    Erasure,
)
from risk.services import privacy
from tests.support.privacy import ALICE_EMAIL, ALICE_IP, every_row, holders
from tests.support.review import PASSWORD, empty_cache, make_reviewer  # noqa: F401

User = get_user_model()

pytestmark = pytest.mark.django_db


def test_admin_action_is_for_superusers_and_confirms_every_row_first(world, client, sandbox):
    url = "/admin/risk/signupattempt/?status=all"
    client.force_login(User.objects.get(username="reviewer"))
    assert "erase_people" not in client.get(url).content.decode()
    admin = User.objects.create_superuser("root", "root@example.test", PASSWORD)
    client.force_login(admin)
    assert "erase_people" in client.get(url).content.decode()
    # Both of Alice's attempts selected: the first POST lists every row and changes nothing.
    selected = [a.pk for a in world["alice"]]
    data = {"action": "erase_people", "_selected_action": selected}
    before = every_row()
    page = client.post(url, data)
    assert page.status_code == 200 and every_row() == before
    text = page.content.decode()
    subject = privacy.person_of_attempts(attempt_ids=selected)
    for table in privacy.person_plan(subject=subject):
        for row in table["rows"]:
            assert f"#{row['id']} " in text, (table["table"], row)
    assert "do not write the person" in text  # the reason is kept: say what not to put in it
    # Confirmed without a reason: the page again, nothing erased.
    assert client.post(url, {**data, "confirm": "yes", "erasure_reason": ""}).status_code == 200
    assert not Erasure.objects.exists()
    response = client.post(
        url, {**data, "confirm": "yes", "erasure_reason": "GDPR request 77"}, follow=True
    )
    assert "Erased 1 person(s)." in response.content.decode()  # two accounts, one device
    assert {(e.actor, e.reason) for e in Erasure.objects.all()} == {(admin, "GDPR request 77")}
    assert client.get("/admin/risk/erasure/").status_code == 200
    client.force_login(User.objects.get(username="reviewer"))
    assert client.get("/admin/risk/erasure/").status_code == 403
    for needle in (ALICE_EMAIL, ALICE_IP, "alice_two"):
        assert holders(needle) == set(), needle
