"""risk/admin/forms.py: a decision's reason always belongs to its action, the note is bounded,
and the bulk bar offers only what can be done in bulk."""

import pytest

from risk.admin.forms import BulkDecisionActionForm, DecisionForm
from risk.services.review import MAX_NOTE_LENGTH, REASON_CODES


def choices(field) -> set[str]:
    return {value for _, group in field.choices[1:] for value, _ in group}


def test_a_valid_decision_splits_into_action_reason_and_note():
    form = DecisionForm({"reason": "approve:legitimate_user", "note": "called them"})
    assert form.is_valid(), form.errors
    assert form.decision() == ("approve", "legitimate_user", "called them")


@pytest.mark.parametrize(
    "data",
    [
        {"reason": ""},
        {"reason": "approve:no_such_reason"},
        {"reason": "legitimate_user"},  # without its action
        {"reason": "approve:legitimate_user", "note": "x" * (MAX_NOTE_LENGTH + 1)},
    ],
)
def test_decisions_the_form_refuses(data):
    assert not DecisionForm(data).is_valid()


def test_every_reason_of_every_action_is_offered_and_only_the_actions_given():
    every = choices(DecisionForm().fields["reason"])
    assert every == {f"{a}:{code}" for a, codes in REASON_CODES.items() for code in codes}
    device_only = DecisionForm(
        {"reason": "approve:legitimate_user"}, actions=("block_device", "trust_device")
    )
    assert not device_only.is_valid()  # a device page offers no attempt decision
    assert all(
        value.startswith(("block_device:", "trust_device:"))
        for value in choices(device_only.fields["reason"])
    )


def test_the_bulk_bar_offers_every_reason_but_an_unblocks_ones():
    offered = choices(BulkDecisionActionForm().fields["reason"])
    expected = {
        code
        for action, codes in REASON_CODES.items()
        if action != "unblock_device"
        for code in codes
    }
    assert offered == expected
    assert "blocked_by_mistake" not in offered  # an unblock is decided device by device
