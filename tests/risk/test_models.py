"""risk/models.py: references, derived fields, and the constraints that are the last line of
defence."""

import pytest
from django.utils import timezone

from risk.models import SignupAttempt
from risk.selectors import REFERENCE_SHAPE
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401


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
