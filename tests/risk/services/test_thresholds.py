"""Applying and reverting rule thresholds (risk.services.thresholds): validated, audited, and
reverted exactly."""

from __future__ import annotations

import pytest

from risk.conf import risk_settings
from risk.models import ThresholdChange, ThresholdSetting
from risk.services.thresholds import ThresholdError, thresholds_apply, thresholds_revert
from risk.thresholds import thresholds_reload

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", password=PASSWORD)


def stored() -> dict:
    return dict(ThresholdSetting.objects.values_list("name", "value"))


def test_apply_writes_the_overrides_and_one_audit_row(boss, django_capture_on_commit_callbacks):
    ThresholdSetting.objects.create(name="RISK_MIN_CONFIDENCE", value=0.6)
    with django_capture_on_commit_callbacks(execute=True):
        change = thresholds_apply(
            actor=boss,
            values={"RISK_SUSPECT_SCORE_REVIEW": "20", "RISK_MIN_CONFIDENCE": 0.7},
            note="fewer holds",
            backtest={"run": "abc"},
        )
    assert stored() == {"RISK_SUSPECT_SCORE_REVIEW": 20, "RISK_MIN_CONFIDENCE": 0.7}
    assert (change.actor, change.action, change.note) == (boss, "applied", "fewer holds")
    assert change.values == {"RISK_SUSPECT_SCORE_REVIEW": 20, "RISK_MIN_CONFIDENCE": 0.7}
    assert change.previous == {"RISK_SUSPECT_SCORE_REVIEW": None, "RISK_MIN_CONFIDENCE": 0.6}
    assert change.backtest == {"run": "abc"}
    assert ThresholdChange.objects.count() == 1
    cfg = risk_settings()  # this process reloaded on commit
    assert (cfg.suspect_score_review, cfg.min_confidence) == (20, 0.7)


def test_none_removes_an_override(boss):
    thresholds_apply(actor=boss, values={"RISK_SUSPECT_SCORE_REVIEW": 20})
    change = thresholds_apply(actor=boss, values={"RISK_SUSPECT_SCORE_REVIEW": None})
    assert stored() == {}
    assert (change.values, change.previous) == (
        {"RISK_SUSPECT_SCORE_REVIEW": None},
        {"RISK_SUSPECT_SCORE_REVIEW": 20},
    )


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"RISK_SUSPECT_SCORE_REVIEW": "x"}, "invalid"),
        ({"RISK_NEW_DEVICE_MINUTES": -5}, "invalid"),
        ({"FINGERPRINT_TIMEOUT_S": 3}, "invalid"),  # not a threshold
        ({"RISK_MAX_ACCOUNTS_PER_DEVICE_HARD": 3}, "invalid"),  # below the soft override (5)
        ({"RISK_MAX_ACCOUNTS_PER_DEVICE": 5}, "no_change"),  # already in force
    ],
)
def test_bad_or_empty_changes_are_refused_and_write_nothing(boss, values, code):
    ThresholdSetting.objects.create(name="RISK_MAX_ACCOUNTS_PER_DEVICE", value=5)
    with pytest.raises(ThresholdError) as refused:
        thresholds_apply(actor=boss, values=values)
    assert refused.value.code == code
    assert stored() == {"RISK_MAX_ACCOUNTS_PER_DEVICE": 5}
    assert not ThresholdChange.objects.exists()


def test_a_change_judged_against_values_no_longer_in_force_is_refused(boss):
    seen = {"RISK_SUSPECT_SCORE_REVIEW": 10, "RISK_MIN_CONFIDENCE": 0.5}
    thresholds_apply(actor=boss, values={"RISK_SUSPECT_SCORE_REVIEW": 15})  # someone else
    with pytest.raises(ThresholdError) as refused:
        thresholds_apply(actor=boss, values={"RISK_MIN_CONFIDENCE": 0.6}, expected=seen)
    assert refused.value.code == "changed"
    assert "RISK_SUSPECT_SCORE_REVIEW is now 15" in refused.value.message
    assert stored() == {"RISK_SUSPECT_SCORE_REVIEW": 15}
    assert ThresholdChange.objects.count() == 1


def test_revert_restores_exactly_what_the_last_change_replaced(boss):
    thresholds_apply(actor=boss, values={"RISK_SUSPECT_SCORE_REVIEW": 20})
    before = stored()
    last = thresholds_apply(
        actor=boss,
        values={"RISK_SUSPECT_SCORE_REVIEW": 25, "RISK_DRN_PERCENTILE_REVIEW": 0.9},
    )
    revert = thresholds_revert(actor=boss, change=last, note="too loose")

    assert stored() == before == {"RISK_SUSPECT_SCORE_REVIEW": 20}  # 0.9 gone: no row again
    assert (revert.action, revert.reverts, revert.note) == ("reverted", last, "too loose")
    assert revert.values == {"RISK_SUSPECT_SCORE_REVIEW": 20, "RISK_DRN_PERCENTILE_REVIEW": None}
    assert revert.previous == last.values
    thresholds_reload()
    assert risk_settings().drn_percentile_review == 0.95  # the Django setting again


def test_only_the_latest_change_is_reverted_and_only_once(boss):
    first = thresholds_apply(actor=boss, values={"RISK_SUSPECT_SCORE_REVIEW": 20})
    second = thresholds_apply(actor=boss, values={"RISK_MIN_CONFIDENCE": 0.6})
    with pytest.raises(ThresholdError) as refused:
        thresholds_revert(actor=boss, change=first)
    assert refused.value.code == "not_latest"
    undo = thresholds_revert(actor=boss, change=second)
    with pytest.raises(ThresholdError) as refused:
        thresholds_revert(actor=boss, change=second)
    assert refused.value.code == "not_latest"
    redo = thresholds_revert(actor=boss, change=undo)  # reverting the revert redoes it
    assert stored() == {"RISK_SUSPECT_SCORE_REVIEW": 20, "RISK_MIN_CONFIDENCE": 0.6}
    assert redo.reverts == undo
    assert ThresholdChange.objects.count() == 4


def test_revert_is_refused_when_the_values_changed_since(boss):
    change = thresholds_apply(actor=boss, values={"RISK_SUSPECT_SCORE_REVIEW": 20})
    ThresholdSetting.objects.filter(name="RISK_SUSPECT_SCORE_REVIEW").update(value=30)
    with pytest.raises(ThresholdError) as refused:
        thresholds_revert(actor=boss, change=change)
    assert refused.value.code == "changed"
    assert stored() == {"RISK_SUSPECT_SCORE_REVIEW": 30}
    assert ThresholdChange.objects.count() == 1
