"""Forms of the review console: a decision on one item, the bulk-action bar, the backtest of
rule thresholds and a runtime override."""

from __future__ import annotations

from django import forms
from django.contrib.admin.helpers import ActionForm

from risk.conf import Setting, risk_settings
from risk.models import ReviewAction, ThresholdSetting
from risk.services.backtest import WINDOWS
from risk.services.review import MAX_NOTE_LENGTH, REASON_CODES
from risk.thresholds import THRESHOLDS, thresholds_validate


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


def threshold_shown(value) -> str:
    """A threshold's value for people to read: booleans as on / off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return "default" if value is None else threshold_text(value)


def threshold_text(value) -> str:
    """A threshold's value as the console's text inputs show it (and Setting.parse reads)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _threshold_field(setting: Setting, value) -> forms.Field:
    if setting.kind == "bool":
        return forms.ChoiceField(choices=(("1", "on"), ("0", "off")), initial=threshold_text(value))
    return forms.CharField(max_length=64, initial=threshold_text(value))


class BacktestForm(forms.Form):
    """Every rule threshold (each field named after its setting, the value in force as its
    initial value) and the window. Values are validated as the settings table validates them;
    `values` holds them typed once the form is valid."""

    window = forms.TypedChoiceField(
        choices=[(days, f"last {days} days") for days in WINDOWS], coerce=int, initial=30
    )

    def __init__(self, *args, current: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.values: dict = {}
        for setting in THRESHOLDS:
            field = _threshold_field(setting, current[setting.name])
            field.label = setting.name
            self.fields[setting.name] = field

    def threshold_fields(self):
        return [self[setting.name] for setting in THRESHOLDS]

    def clean(self):
        cleaned = super().clean()
        given = {s.name: cleaned[s.name] for s in THRESHOLDS if cleaned.get(s.name) is not None}
        parsed, problems = thresholds_validate(given, cfg=risk_settings())
        for name, problem in problems.items():
            self.add_error(name if name in self.fields else None, problem)
        self.values = parsed
        return cleaned


class ThresholdSettingForm(forms.ModelForm):
    """One runtime override in the admin: a rule threshold and its value, validated like the
    settings table and together with the others in force."""

    name = forms.ChoiceField(choices=[(s.name, s.name) for s in THRESHOLDS])
    value = forms.CharField(
        max_length=64, help_text="As in the settings: 12, 0.9, 1 (on) or 0 (off)."
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why: kept in the threshold changes' audit.",
    )

    class Meta:
        model = ThresholdSetting
        fields = ("name", "value")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["name"].disabled = True
            self.initial["value"] = threshold_text(self.instance.value)

    def clean(self):
        cleaned = super().clean()
        name, value = cleaned.get("name"), cleaned.get("value")
        if name and value is not None:
            parsed, problems = thresholds_validate({name: value}, cfg=risk_settings())
            for problem in problems.values():
                self.add_error("value", problem)
            if not problems:
                cleaned["value"] = parsed[name]
        return cleaned
