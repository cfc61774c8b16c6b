"""Changing the rule thresholds at runtime: every change writes the `ThresholdSetting` rows and
one `ThresholdChange` audit row (what it set, what it replaced, the backtest behind it) in one
transaction, and the latest change can be reverted exactly. Every process picks a change up
within a minute (risk.thresholds); the one that made it, at once.

Concurrency: a change locks the table's rows (a handful) and compares what is stored with what
the caller saw; a row another change created meanwhile hits the unique name. Either way the
later change is refused (`changed`), never applied over the other.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from risk.conf import RiskSettings, resolve
from risk.models import ThresholdChange, ThresholdSetting
from risk.thresholds import (
    overrides_valid,
    thresholds_apply_to,
    thresholds_combination_problems,
    thresholds_of,
    thresholds_parse,
    thresholds_reload,
)

BACKTEST_PERMISSION = "risk.run_backtest"
APPLIED, REVERTED = "applied", "reverted"
MAX_NOTE_LENGTH = 2000


class ThresholdError(Exception):
    """A change that cannot be made; `code` is machine-readable, `problems` names the
    thresholds at fault."""

    def __init__(self, code: str, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems or {}


def django_thresholds() -> RiskSettings:
    """The Django settings alone, no overrides: the defaults an override replaces."""
    return resolve(settings)


def _note_check(note: str) -> None:
    if len(note) > MAX_NOTE_LENGTH:
        raise ThresholdError("invalid", f"The note is longer than {MAX_NOTE_LENGTH} characters.")


def _change_store(base, rows, stored, values, **audit) -> ThresholdChange:
    """Write `values` over the stored overrides, if they make a valid table together, and the
    audit row that says what they replaced. Runs in the caller's transaction, rows locked."""
    _refuse_invalid_together(base, stored, values)
    _write(rows, values)
    previous = {name: stored.get(name) for name in values}
    return ThresholdChange.objects.create(values=values, previous=previous, **audit)


def thresholds_apply(
    *,
    actor,
    values: dict[str, Any],
    expected: dict[str, Any] | None = None,
    note: str = "",
    backtest: dict | None = None,
) -> ThresholdChange:
    """Set the overrides `values` (by setting name; None removes one, so that the Django
    setting applies again), validated like the settings table. `expected`: the values in force
    the caller judged the change against (a backtest's "now"); when they are no longer in force
    the change is refused (`changed`): it was judged against thresholds that have moved since."""
    _note_check(note)
    parsed, problems = thresholds_parse(values)
    if problems:
        raise ThresholdError("invalid", "Some values are not valid thresholds.", problems)
    base = django_thresholds()
    try:
        with transaction.atomic():
            rows = _rows_locked()
            stored = overrides_valid(rows)
            if expected is not None:
                _refuse_if_moved(expected, thresholds_of(thresholds_apply_to(base, stored)))
            changes = {name: value for name, value in parsed.items() if stored.get(name) != value}
            if not changes:
                raise ThresholdError("no_change", "These values are already in force.")
            change = _change_store(
                base,
                rows,
                stored,
                changes,
                actor=actor,
                action=APPLIED,
                note=note,
                backtest=backtest or {},
            )
    except IntegrityError as exc:  # another change created one of these rows meanwhile
        raise ThresholdError("changed", "The thresholds changed meanwhile; try again.") from exc
    transaction.on_commit(thresholds_reload)
    return change


def thresholds_revert(*, actor, change: ThresholdChange, note: str = "") -> ThresholdChange:
    """Put back exactly what `change` replaced, with an audit row of its own. Only the latest
    change can be reverted, and only while the values it set are still the ones stored."""
    _note_check(note)
    base = django_thresholds()
    try:
        with transaction.atomic():
            rows = _rows_locked()
            stored = overrides_valid(rows)
            latest = threshold_change_latest()
            if latest is None or latest.pk != change.pk:
                raise ThresholdError(
                    "not_latest", "Only the latest threshold change can be reverted."
                )
            if change.reverted_by.exists():
                raise ThresholdError("already_reverted", "This change was already reverted.")
            set_then, _ = thresholds_parse(change.values)
            moved = {n: stored.get(n) for n, v in set_then.items() if stored.get(n) != v}
            if moved:
                raise ThresholdError(
                    "changed",
                    "The thresholds changed since ("
                    + ", ".join(f"{name} is now {_shown(v)}" for name, v in moved.items())
                    + "): nothing was reverted.",
                )
            restore, problems = thresholds_parse(change.previous)
            if problems:
                raise ThresholdError(
                    "invalid", "The previous values are no longer valid.", problems
                )
            revert = _change_store(
                base,
                rows,
                stored,
                restore,
                actor=actor,
                action=REVERTED,
                note=note,
                reverts=change,
            )
    except IntegrityError as exc:
        raise ThresholdError("changed", "The thresholds changed meanwhile; try again.") from exc
    transaction.on_commit(thresholds_reload)
    return revert


def threshold_change_latest() -> ThresholdChange | None:
    return ThresholdChange.objects.order_by("-created_at", "-pk").first()


def threshold_change_revertable(change: ThresholdChange | None) -> bool:
    """Whether the console offers "Revert" for `change` (the latest; the service checks again)."""
    return (
        change is not None
        and not change.reverted_by.exists()
        and change.pk == getattr(threshold_change_latest(), "pk", None)
    )


def _rows_locked() -> dict[str, Any]:
    """The stored overrides as stored, by name, their rows locked until the transaction ends."""
    rows = ThresholdSetting.objects.select_for_update().order_by("name")
    return {row.name: row.value for row in rows}


def _refuse_if_moved(expected: dict[str, Any], in_force: dict[str, Any]) -> None:
    typed, _ = thresholds_parse({n: v for n, v in expected.items() if n in in_force})
    moved = {name: in_force[name] for name, value in typed.items() if value != in_force[name]}
    if moved:
        raise ThresholdError(
            "changed",
            "The thresholds changed since this backtest ran ("
            + ", ".join(f"{name} is now {value!r}" for name, value in moved.items())
            + "): run it again.",
        )


def _refuse_invalid_together(base, stored: dict[str, Any], changes: dict[str, Any]) -> None:
    after = {name: value for name, value in {**stored, **changes}.items() if value is not None}
    problems = thresholds_combination_problems(thresholds_apply_to(base, after), given=changes)
    if problems:
        raise ThresholdError("invalid", "The thresholds would not be valid together.", problems)


def _write(rows: dict[str, Any], changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if value is None:
            ThresholdSetting.objects.filter(name=name).delete()
        elif name in rows:
            ThresholdSetting.objects.filter(name=name).update(
                value=value, updated_at=timezone.now()
            )
        else:
            ThresholdSetting.objects.create(name=name, value=value)


def _shown(value: Any) -> str:
    return "the default" if value is None else repr(value)
