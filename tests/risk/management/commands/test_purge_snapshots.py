"""manage.py purge_snapshots: what an operator runs daily: a dry run that counts, a run that
strips old evidence and prints what it did, and refusals that exit non-zero."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from risk.models import FingerprintEvent, SignupAttempt

pytestmark = pytest.mark.django_db


def run(**options) -> str:
    out = io.StringIO()
    call_command("purge_snapshots", no_progress=True, stdout=out, **options)
    return out.getvalue()


def summary(output: str) -> dict[str, int]:
    return {name: int(n) for name, n in (line.split() for line in output.splitlines()[1:])}


@pytest.fixture
def old_and_new():
    rows = {}
    for name, age, held in (("old", 120, False), ("held", 120, True), ("new", 5, False)):
        event = FingerprintEvent.objects.create(
            event_id=f"1700000000000.{name:0>6}", raw={"event_id": name}, ip="198.51.100.9",
            url="https://shop.example/signup",
        )  # fmt: skip
        attempt = SignupAttempt.objects.create(
            username=name, event_id=event.event_id, decision="review", client_ip="198.51.100.9",
            fingerprint_event=event, review_status="pending" if held else "",
        )  # fmt: skip
        then = timezone.now() - timedelta(days=age)
        FingerprintEvent.objects.filter(pk=event.pk).update(fetched_at=then)
        SignupAttempt.objects.filter(pk=attempt.pk).update(created_at=then)
        rows[name] = attempt
    return rows


def test_a_dry_run_counts_what_is_due_and_changes_nothing(old_and_new):
    output = run(dry_run=True)
    assert output.startswith("purge_snapshots (dry run): summary")
    assert summary(output) == {
        "events_due": 1,
        "event_versions_due": 0,
        "drn_snapshots_due": 0,
        "attempts_due": 1,
    }
    assert not FingerprintEvent.objects.filter(raw={}).exists()


def test_a_run_strips_old_evidence_except_what_a_reviewer_waits_on(old_and_new):
    assert summary(run()) == {"attempts_stripped": 1, "events_stripped": 1}
    stripped = FingerprintEvent.objects.get(event_id=old_and_new["old"].event_id)
    assert (stripped.raw, stripped.ip, stripped.url) == ({}, None, "")
    assert SignupAttempt.objects.get(pk=old_and_new["old"].pk).client_ip is None
    for kept in ("held", "new"):
        assert FingerprintEvent.objects.get(event_id=old_and_new[kept].event_id).raw != {}
    assert summary(run()) == {}  # nothing left
    assert run(days=0).splitlines() == ["purge_snapshots: summary"]  # 0: keep everything


@pytest.mark.parametrize(
    ("options", "code"),
    [({"days": -1}, "invalid_retention"), ({"batch_size": 0}, "invalid_batch_size")],
)
def test_bad_options_are_refused_with_their_code(old_and_new, options, code):
    with pytest.raises(CommandError, match=f"^{code}: "):
        run(**options)
    assert not FingerprintEvent.objects.filter(raw={}).exists()
