"""manage.py rescore over attempts made through the real signup API (sandbox over HTTP)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from risk.models import (
    BackfillCheckpoint,
    Device,
    FingerprintEvent,
    Reassessment,
    ReviewDecision,
    SignupAttempt,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def rescore(**options) -> str:
    out = io.StringIO()
    call_command("rescore", no_progress=True, stdout=out, **options)
    return out.getvalue()


def summary(output: str) -> dict[str, int]:
    """The counts block at the top of the command's output."""
    counts = {}
    for line in output.splitlines()[1:]:
        if not line.strip():
            break
        name, value = line.split()
        counts[name] = int(value)
    return counts


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.RISK_TRUSTED_PROXY_COUNT = 1


def signups(sandbox, profiles):
    """One signup per profile, each from its own home address."""
    for i, profile in enumerate(profiles):
        ip = f"73.45.0.{i + 1}"
        api = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=ip)
        event = sandbox.create_event(profile=profile, ip=ip)
        response = api.post(
            "/api/signup",
            {"event_id": event["event_id"], "username": f"user{i}", "password": "x-Pass-word-9"},
            format="json",
        )
        assert response.status_code in (201, 403), response.json()
    return list(SignupAttempt.objects.order_by("pk"))


def snapshot_tables():
    """Every row of every table rescore could touch."""
    return {
        model.__name__: sorted(map(repr, model.objects.values_list()))
        for model in (
            SignupAttempt, Reassessment, ReviewDecision, Device, FingerprintEvent,
            BackfillCheckpoint, User,
        )
    }  # fmt: skip


def test_dry_run_reports_changes_by_reason_and_writes_nothing(sandbox):
    attempts = signups(sandbox, ["human", "human", "tor"])
    assert [a.decision for a in attempts] == ["allow", "allow", "review"]
    before = snapshot_tables()

    output = rescore(since="1h", dry_run=True, set=["suspect_score_review=0"])

    assert snapshot_tables() == before
    assert "dry run" in output
    assert "allow->review" in output
    assert "suspect_score" in output  # the reason table says why
    assert summary(output)["changed"] == 2


def test_same_rules_change_nothing(sandbox):
    signups(sandbox, ["human", "tor", "bad_bot"])
    output = rescore(since="1h", dry_run=True)
    assert summary(output) == {"scored": 3, "unchanged": 3}


@pytest.mark.parametrize("reason", ["username_taken", "account_failed"])
def test_an_attempt_whose_account_was_never_created_stays_denied(sandbox, reason):
    from risk.services.signup import attempt_account_failed

    (attempt,) = signups(sandbox, ["human"])
    # The state a failed account creation leaves: the attempt allowed, no account linked.
    SignupAttempt.objects.filter(pk=attempt.pk).update(account=None)
    attempt.refresh_from_db()
    assert attempt_account_failed(attempt=attempt, reason=reason)
    assert summary(rescore(since="1h", dry_run=True)) == {"scored": 1, "unchanged": 1}


def test_apply_records_reassessments_flags_changes_and_keeps_reviewer_decisions(sandbox):
    attempts = signups(sandbox, ["human", "human", "human"])
    reviewed, untouched, _ = attempts
    reviewer = User.objects.create_user(username="rev", is_staff=True)
    SignupAttempt.objects.filter(pk=reviewed.pk).update(review_status="approved")
    decision = ReviewDecision.objects.create(
        actor=reviewer, attempt=reviewed, action="approve", reason="legitimate_user"
    )
    decision_row = ReviewDecision.objects.values().get(pk=decision.pk)

    output = rescore(since="1h", run_id="trial-1", set=["suspect_score_review=0"])

    assert Reassessment.objects.filter(run_id="trial-1").count() == 3
    row = Reassessment.objects.get(run_id="trial-1", attempt=untouched)
    assert (row.previous_decision, row.decision) == ("allow", "review")
    assert "suspect_score" in row.reasons
    statuses = dict(SignupAttempt.objects.values_list("pk", "review_status"))
    assert statuses[reviewed.pk] == "approved"  # the reviewer's word stands
    assert statuses[untouched.pk] == "pending"
    assert set(SignupAttempt.objects.values_list("decision", flat=True)) == {"allow"}
    assert ReviewDecision.objects.values().get(pk=decision.pk) == decision_row
    assert ReviewDecision.objects.count() == 1
    counts = summary(output)
    assert counts["kept_reviewer_decision"] == 1 and counts["flagged_for_review"] == 2
    assert not BackfillCheckpoint.objects.exists()

    before = snapshot_tables()
    rescore(since="1h", run_id="trial-1", set=["suspect_score_review=0"])  # rerun: idempotent
    assert snapshot_tables() == before


def test_interrupted_run_resumes_with_its_run_id(sandbox, crash_after_batches):
    signups(sandbox, ["human"] * 4)
    crash_after_batches(1)
    with pytest.raises(CommandError, match="--run-id r1"):
        rescore(since="1h", run_id="r1", batch_size=2)
    assert Reassessment.objects.count() == 2
    assert BackfillCheckpoint.objects.get(name="rescore:r1").state["after"] > 0
    from risk.services.jobs import batch_committed

    batch_committed.disconnect(dispatch_uid="crash_after_batches")
    output = rescore(since="1h", run_id="r1", batch_size=2)
    assert Reassessment.objects.count() == 4
    assert summary(output)["scored"] == 4  # counts carried over the resume


def test_bad_options_are_refused():
    with pytest.raises(CommandError, match="NAME=VALUE"):
        rescore(since="1h", set=["nonsense=1"])
    with pytest.raises(CommandError, match="invalid_time"):
        rescore(since="last tuesday")


def test_every_rule_threshold_can_be_tried_and_strict_mode_shows_what_it_would_deny(sandbox):
    """The household's held second account: what the seed's strictness would have done."""
    first = sandbox.create_event(ip="127.0.0.1")
    api = APIClient(REMOTE_ADDR="127.0.0.1")
    for i, event in enumerate(
        [
            first,
            sandbox.create_event(ip="127.0.0.1", visitor_id=first["identification"]["visitor_id"]),
        ]
    ):
        api.post(
            "/api/signup",
            {"event_id": event["event_id"], "username": f"home{i}", "password": "x-Pass-word-9"},
            format="json",
        )
    held = SignupAttempt.objects.get(username="home1")
    assert held.reasons == ["device_shared"] and held.facts["same_network"] is True

    output = rescore(since="1h", dry_run=True, set=["device_limit_strict=1"])
    assert "review->deny" in output and "device_limit" in output
    assert summary(output)["changed"] == 1
    # thresholds from the settings table, validated like the settings themselves
    rescore(since="1h", dry_run=True, set=["ip_new_devices_review_1h=4", "velocity_max_ips_1h=3"])
    with pytest.raises(CommandError, match="between"):
        rescore(since="1h", dry_run=True, set=["min_confidence=7"])
    with pytest.raises(CommandError, match="expected NAME=VALUE"):
        rescore(since="1h", dry_run=True, set=["trusted_proxy_count=1"])
