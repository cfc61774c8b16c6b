"""The backtest page in the review console: who may use it, running a backtest, applying its
values and reverting them, on the dedicated review site and on a host's own admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.urls import reverse

from risk.conf import risk_settings
from risk.models import BackfillCheckpoint, ThresholdChange, ThresholdSetting
from risk.thresholds import THRESHOLDS
from tests.support.backtest import known_history
from tests.support.review import empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db
PAGE = "/admin/risk/thresholdchange/backtest/"
RAISED = {"RISK_SUSPECT_SCORE_REVIEW": "20"}


def form_data(window: int = 30, **values) -> dict:
    """The form as the page fills it (every threshold in force), with `values` changed."""
    cfg = risk_settings()
    data = {"window": str(window)}
    for setting in THRESHOLDS:
        value = getattr(cfg, setting.field)
        data[setting.name] = ("1" if value else "0") if setting.kind == "bool" else str(value)
    data.update(values)
    return data


def run_backtest(client, **values) -> str:
    """POST the form; the run page's URL (no broker here: the run finishes in the request)."""
    response = client.post(PAGE, form_data(**values))
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_the_page_lists_every_threshold_with_its_value_in_force(boss_client):
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=15)
    page = boss_client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    for setting in THRESHOLDS:  # settings marked as thresholds appear without a code change
        assert f'name="{setting.name}"' in html
    assert 'name="RISK_SUSPECT_SCORE_REVIEW" value="15"' in html  # the runtime value
    assert "runtime</span>" in html
    assert 'name="RISK_CHECK_IP"' not in html  # a setting, not a threshold


def test_a_run_shows_counts_moves_labelled_estimates_and_a_sample(boss_client):
    history = known_history()
    url = run_backtest(boss_client, **RAISED)
    page = boss_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="run-status">done' in html
    assert 'id="scored">9<' in html and 'id="skipped">1<' in html and 'id="moved">4<' in html
    assert 'id="move-review-allow"><td>review-&gt;allow</td><td class="n">4</td>' in html
    assert (
        '<tr id="labelled-fraud_allowed"><td>fraud allowed</td><td class="now">0</td>'
        '<td class="proposed">1</td>' in html
    )
    assert (
        '<tr id="labelled-people_held"><td>people held for review</td><td class="now">3</td>'
        '<td class="proposed">1</td>' in html
    )
    for attempt in history["approved12"] + history["rejected12"]:
        assert reverse("admin:risk_signupattempt_change", args=[attempt.pk]) in html
    assert 'id="apply-link"' in html
    assert boss_client.get(url + "progress/").json()["status"] == "done"


def test_values_that_are_not_valid_are_refused_on_the_form(boss_client):
    response = boss_client.post(
        PAGE,
        form_data(RISK_SUSPECT_SCORE_REVIEW="ten", RISK_MAX_ACCOUNTS_PER_DEVICE="50"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "invalid literal for int()" in html
    assert "would be below RISK_MAX_ACCOUNTS_PER_DEVICE (50)" in html
    assert not BackfillCheckpoint.objects.exists()  # no run started


def test_apply_asks_first_then_writes_the_values_and_one_audit_row(
    boss_client, boss, django_capture_on_commit_callbacks
):
    known_history()
    url = run_backtest(boss_client, **RAISED)
    confirm = boss_client.get(url + "apply/")
    assert confirm.status_code == 200
    assert "RISK_SUSPECT_SCORE_REVIEW" in confirm.content.decode()
    assert not ThresholdChange.objects.exists()  # asking changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        done = boss_client.post(url + "apply/", {"note": "holds too many people"}, follow=True)
    assert "Applied (RISK_SUSPECT_SCORE_REVIEW)" in done.content.decode()
    change = ThresholdChange.objects.get()
    assert (change.actor, change.action, change.note) == (boss, "applied", "holds too many people")
    assert change.values == {"RISK_SUSPECT_SCORE_REVIEW": 20}
    assert change.backtest["moves"] == {"review->allow": 4}
    assert risk_settings().suspect_score_review == 20
    assert 'class="rv-change"' in done.content.decode()  # the audit, on the page


def test_applying_a_run_whose_thresholds_moved_since_is_refused(boss_client, boss):
    url = run_backtest(boss_client, **RAISED)
    ThresholdSetting.objects.create(name="RISK_MIN_CONFIDENCE", value=0.7)  # someone else
    response = boss_client.post(url + "apply/", {"note": ""})
    assert response.status_code == 409
    assert "changed since this backtest ran" in response.content.decode()
    assert ThresholdSetting.objects.count() == 1


def test_revert_from_the_page_restores_the_last_change_exactly(boss_client):
    url = run_backtest(boss_client, **RAISED)
    boss_client.post(url + "apply/", {"note": ""})
    change = ThresholdChange.objects.get()
    page = boss_client.get(PAGE).content.decode()
    assert f"Revert the last change (#{change.pk})" in page

    done = boss_client.post(
        reverse("admin:risk_thresholdchange_revert"), {"change": change.pk}, follow=True
    )
    assert f"Reverted change #{change.pk}" in done.content.decode()
    assert not ThresholdSetting.objects.exists()
    revert = ThresholdChange.objects.get(action="reverted")
    assert revert.reverts == change and revert.values == {"RISK_SUSPECT_SCORE_REVIEW": None}


def test_revert_is_refused_when_the_values_changed_since(boss_client):
    url = run_backtest(boss_client, **RAISED)
    boss_client.post(url + "apply/", {"note": ""})
    change = ThresholdChange.objects.get()
    ThresholdSetting.objects.update(value=30)
    done = boss_client.post(
        reverse("admin:risk_thresholdchange_revert"), {"change": change.pk}, follow=True
    )
    assert "[changed]" in done.content.decode()
    assert ThresholdSetting.objects.get().value == 30
    assert ThresholdChange.objects.count() == 1


def test_reviewers_without_the_permission_are_refused_everywhere(reviewer_client, boss):
    run = BackfillCheckpoint.objects.create(name="backtest:abc", state={})
    pages = [
        ("get", PAGE),
        ("post", PAGE),
        ("get", "/admin/risk/thresholdchange/backtest/abc/"),
        ("get", "/admin/risk/thresholdchange/backtest/abc/progress/"),
        ("post", "/admin/risk/thresholdchange/backtest/abc/apply/"),
        ("post", "/admin/risk/thresholdchange/revert/"),
        ("get", "/admin/risk/thresholdchange/"),
        ("get", "/admin/risk/thresholdsetting/"),
        ("get", "/admin/risk/thresholdsetting/add/"),
    ]
    for method, url in pages:
        assert getattr(reviewer_client, method)(url).status_code == 403, url
    queue = reviewer_client.get("/admin/risk/signupattempt/").content.decode()
    assert 'id="backtest-link"' not in queue
    assert run.state == {}


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_given_the_permission_use_it_and_find_it_from_the_queue(client):
    staff = make_reviewer("tuner")
    staff.user_permissions.add(Permission.objects.get(codename="run_backtest"))
    client.force_login(staff)
    assert client.get(PAGE).status_code == 200
    queue = client.get("/admin/risk/signupattempt/").content.decode()
    assert f'href="{PAGE}" id="backtest-link"' in queue
    dashboard = client.get("/admin/").content.decode()  # the review site's index
    assert f'href="{PAGE}" id="backtest-link"' in dashboard


@override_settings(ROOT_URLCONF="tests.support.host_admin")
def test_the_page_works_on_a_hosts_own_admin_site(boss_client):
    known_history()
    assert reverse("admin:risk_thresholdchange_backtest") == PAGE
    url = run_backtest(boss_client, **RAISED)
    assert 'id="moved">4<' in boss_client.get(url).content.decode()
    dashboard = boss_client.get("/admin/risk/signupattempt/dashboard/").content.decode()
    assert 'id="backtest-link"' in dashboard
    assert boss_client.post(url + "apply/", {"note": ""}).status_code == 302
    assert ThresholdSetting.objects.get().value == 20


def test_the_audit_is_read_only_even_for_superusers(boss_client):
    known_history()
    url = run_backtest(boss_client, **RAISED)
    boss_client.post(url + "apply/", {"note": ""})
    change = ThresholdChange.objects.get()
    listing = boss_client.get("/admin/risk/thresholdchange/").content.decode()
    assert "RISK_SUSPECT_SCORE_REVIEW" in listing and 'id="backtest-link"' in listing
    assert boss_client.get("/admin/risk/thresholdchange/add/").status_code == 403
    detail = boss_client.get(f"/admin/risk/thresholdchange/{change.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    delete = boss_client.post(f"/admin/risk/thresholdchange/{change.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert ThresholdChange.objects.count() == 1
