"""Runtime threshold overrides in the admin (risk/admin/thresholds.py): only for staff with
risk.run_backtest, validated like the settings table, every change audited."""

from __future__ import annotations

import pytest

from risk.models import ThresholdChange, ThresholdSetting
from tests.support.review import empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db
LIST = "/admin/risk/thresholdsetting/"


def test_an_override_added_in_the_admin_is_validated_and_audited(boss_client, boss):
    add = "/admin/risk/thresholdsetting/add/"
    refused = boss_client.post(add, {"name": "RISK_MIN_CONFIDENCE", "value": "3"})
    assert refused.status_code == 200  # the form again, with the error
    assert "must be a number between 0 and 1, got 3" in refused.content.decode()
    assert not ThresholdSetting.objects.exists() and not ThresholdChange.objects.exists()

    added = boss_client.post(add, {"name": "RISK_MIN_CONFIDENCE", "value": "0.7", "note": "QA"})
    assert added.status_code == 302
    row = ThresholdSetting.objects.get()
    assert (row.name, row.value) == ("RISK_MIN_CONFIDENCE", 0.7)
    change = ThresholdChange.objects.get()
    assert (change.actor, change.values, change.previous, change.note) == (
        boss,
        {"RISK_MIN_CONFIDENCE": 0.7},
        {"RISK_MIN_CONFIDENCE": None},
        "QA",
    )

    edit = f"/admin/risk/thresholdsetting/{row.pk}/change/"
    assert boss_client.post(edit, {"value": "0.8"}).status_code == 302
    assert ThresholdSetting.objects.get().value == 0.8
    delete = f"/admin/risk/thresholdsetting/{row.pk}/delete/"
    assert boss_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ThresholdSetting.objects.exists()
    assert list(ThresholdChange.objects.order_by("pk").values_list("values", flat=True)) == [
        {"RISK_MIN_CONFIDENCE": 0.7},
        {"RISK_MIN_CONFIDENCE": 0.8},
        {"RISK_MIN_CONFIDENCE": None},
    ]


def test_the_list_shows_each_override_beside_its_django_setting(boss_client, settings):
    settings.RISK_SUSPECT_SCORE_REVIEW = 12
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=20)
    ThresholdSetting.objects.create(name="RISK_DEVICE_LIMIT_STRICT", value=True)
    html = boss_client.get(LIST).content.decode()
    assert '<td class="field-override">20</td><td class="field-django_setting">12</td>' in html
    assert '<td class="field-override">on</td><td class="field-django_setting">off</td>' in html


def test_reviewers_without_the_permission_cannot_see_or_change_overrides(client):
    client.force_login(make_reviewer())
    row = ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=20)
    for url in (LIST, f"{LIST}add/", f"{LIST}{row.pk}/change/", f"{LIST}{row.pk}/delete/"):
        assert client.get(url).status_code == 403, url
    response = client.post(f"{LIST}{row.pk}/change/", {"value": "5"})
    assert response.status_code == 403
    assert ThresholdSetting.objects.get().value == 20
    assert not ThresholdChange.objects.exists()
    assert "thresholdsetting" not in client.get("/admin/").content.decode()
