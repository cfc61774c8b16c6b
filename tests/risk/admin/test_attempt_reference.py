"""The public reference is an opaque random token, filled for every attempt (new and migrated)
and searchable by staff in the review console."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from risk.models import SignupAttempt
from risk.selectors import REFERENCE_SHAPE
from tests.risk.review_helpers import empty_cache, make_reviewer, signup  # noqa: F401

QUEUE = "/admin/risk/signupattempt/"


@pytest.mark.django_db
def test_every_answer_carries_the_opaque_reference(sandbox, settings):
    created, first = signup(sandbox, "human")
    denied, bot = signup(sandbox, "bad_bot")
    settings.FINGERPRINT_FAILURE_POLICY = "deny"
    sandbox.set_faults(target="events", status=503)
    unavailable = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {
            "event_id": "1700000000000.abcdef",
            "username": "later",
            "password": "correct-horse-battery-9",
        },
        format="json",
    )
    assert (created.status_code, denied.status_code, unavailable.status_code) == (201, 403, 503)
    references = [r.json()["reference"] for r in (created, denied, unavailable)]
    attempts = [SignupAttempt.objects.get(reference=ref) for ref in references]
    assert [a.pk for a in attempts[:2]] == [first.pk, bot.pk]
    for reference, attempt in zip(references, attempts, strict=True):
        assert REFERENCE_SHAPE.match(reference)
        assert reference != str(attempt.pk) and not reference.isdigit()
    assert len(set(references)) == 3


@pytest.mark.django_db
def test_references_are_unique_and_random():
    now = timezone.now()
    SignupAttempt.objects.bulk_create(
        [SignupAttempt(username=f"u{i}", event_id=f"e{i}", decision="deny") for i in range(500)]
    )
    references = list(SignupAttempt.objects.values_list("reference", flat=True))
    assert len(set(references)) == 500
    assert all(REFERENCE_SHAPE.match(r) for r in references)
    assert SignupAttempt.objects.filter(created_at__gte=now).count() == 500


@pytest.mark.django_db
def test_staff_find_an_attempt_by_its_reference(client, sandbox):
    _, wanted = signup(sandbox, "tor", username="wanted")
    signup(sandbox, "tor", username="other")
    client.force_login(make_reviewer())
    for term in (wanted.reference, wanted.reference.lower(), f"  {wanted.reference} "):
        page = client.get(QUEUE, {"q": term})
        assert page.status_code == 200
        assert page.context["cl"].result_count == 1, term
        assert list(page.context["cl"].result_list) == [wanted]
    evidence = client.get(f"{QUEUE}{wanted.pk}/change/")
    assert wanted.reference in evidence.content.decode()


@pytest.mark.django_db(transaction=True)
def test_migration_fills_a_reference_for_existing_rows():
    executor = MigrationExecutor(connection)
    executor.migrate([("risk", "0008_event_versions")])
    old_apps = executor.loader.project_state([("risk", "0008_event_versions")]).apps
    old_attempt = old_apps.get_model("risk", "SignupAttempt")
    old_attempt.objects.bulk_create(
        [old_attempt(username=f"old{i}", event_id=f"e{i}", decision="deny") for i in range(2500)]
    )
    executor = MigrationExecutor(connection)  # reload the graph after migrating backwards
    executor.migrate(executor.loader.graph.leaf_nodes())
    references = list(SignupAttempt.objects.values_list("reference", flat=True))
    assert len(references) == 2500 and len(set(references)) == 2500  # more than one batch
    assert all(reference and REFERENCE_SHAPE.match(reference) for reference in references)
