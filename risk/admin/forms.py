"""Forms of the review console: a decision on one item, and the bulk-action bar."""

from __future__ import annotations

from django import forms
from django.contrib.admin.helpers import ActionForm

from risk.models import ReviewAction
from risk.services.review import MAX_NOTE_LENGTH, REASON_CODES


def _grouped_reasons(actions) -> list:
    """Reason choices grouped by action, as <optgroup>s."""
    return [("", "— reason —")] + [
        (ReviewAction(action).label, [(f"{action}:{code}", label) for code, label in codes.items()])
        for action, codes in REASON_CODES.items()
        if action in actions
    ]


class DecisionForm(forms.Form):
    """One decision. The reason value is "<action>:<code>", so the pair is always consistent."""

    reason = forms.ChoiceField(choices=())
    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Note (optional)"}),
    )

    def __init__(self, *args, actions=tuple(REASON_CODES), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = _grouped_reasons(actions)

    def decision(self) -> tuple[str, str, str]:
        """(action, reason, note) of a valid form."""
        action, _, reason = self.cleaned_data["reason"].partition(":")
        return action, reason, self.cleaned_data["note"]


class BulkDecisionActionForm(ActionForm):
    """The queue's action bar: the action plus a reason code (any action's) and a note."""

    reason = forms.ChoiceField(required=False, choices=(), label="Reason")
    note = forms.CharField(required=False, max_length=MAX_NOTE_LENGTH, label="Note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— reason —")]
        for action, codes in REASON_CODES.items():
            if action == ReviewAction.UNBLOCK_DEVICE:
                continue  # not a bulk action
            choices.append(
                (ReviewAction(action).label, [(code, label) for code, label in codes.items()])
            )
        self.fields["reason"].choices = choices
