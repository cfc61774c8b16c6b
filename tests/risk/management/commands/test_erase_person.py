"""manage.py erase_person: what it lists, what it refuses, over people who signed up through the
real API."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from risk.models import (
    Erasure,
)
from risk.services import privacy
from tests.support.privacy import ALICE_EMAIL, erase, every_row
from tests.support.review import PASSWORD, empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db


def test_dry_run_lists_every_row_and_changes_nothing(world):
    before = every_row()
    output = erase(email=ALICE_EMAIL, dry_run=True)
    assert every_row() == before and not Erasure.objects.exists()
    subject = privacy.person_find(email=ALICE_EMAIL)
    for table in privacy.person_plan(subject=subject):
        for row in table["rows"]:
            assert f"#{row['id']}  " in output, (table["table"], row)
    assert "risk.SignupAttempt (other people's rows: only the person's identifiers go)" in output
    erased = erase(email=ALICE_EMAIL, reason="ticket 14")
    assert "erase_person (audit row" in erased


def test_bad_input_is_refused_and_changes_nothing(world):
    before = every_row()
    with pytest.raises(CommandError, match="no_identifier"):
        erase(reason="x")
    with pytest.raises(CommandError, match="reason_required"):
        erase(username="alice")
    assert every_row() == before
