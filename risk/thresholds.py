"""Rule thresholds that change without a restart.

A `ThresholdSetting` row overrides the Django setting of the same name, for the settings marked
`threshold=True` in risk/conf.py; the Django setting (the environment, in the reference
project) stays the default and is back as soon as the row goes. `risk.conf.risk_settings()`
applies the overrides through `settings_in_force`.

Every process reads the table at most once a minute (`RELOAD_S`, on a monotonic clock), so a
change reaches every web and worker process within a minute with no message between them; the
process that writes a change reloads at once (risk.services.thresholds). A read that fails (the
table not migrated yet, the database away for a moment) keeps the values read last and is
logged: no request fails for it. A row that no longer validates (a setting's range changed, or
a threshold retired) is ignored and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from risk.conf import SETTINGS, RiskSettings, Setting
from risk.models import ThresholdSetting

logger = logging.getLogger(__name__)

RELOAD_S = 60.0
THRESHOLDS: tuple[Setting, ...] = tuple(setting for setting in SETTINGS if setting.threshold)
BY_NAME: dict[str, Setting] = {setting.name: setting for setting in THRESHOLDS}
SOFT_LIMIT, HARD_LIMIT = "RISK_MAX_ACCOUNTS_PER_DEVICE", "RISK_MAX_ACCOUNTS_PER_DEVICE_HARD"


# --- validation -------------------------------------------------------------------------------


def thresholds_of(cfg: RiskSettings) -> dict[str, Any]:
    """Every threshold's value in `cfg`, by setting name."""
    return {setting.name: getattr(cfg, setting.field) for setting in THRESHOLDS}


def thresholds_parse(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(typed values, problems by name) for thresholds given as text or typed values, each
    parsed like a Django setting (`Setting.parse`). None stands for "no override"."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, raw in values.items():
        setting = BY_NAME.get(name)
        if setting is None:
            problems[name] = "not a rule threshold"
        elif raw is None:
            parsed[name] = None
        else:
            try:
                parsed[name] = setting.parse(raw)
            except (TypeError, ValueError) as exc:
                problems[name] = str(exc)
    return parsed, problems


def thresholds_combination_problems(
    cfg: RiskSettings, *, given: Collection[str] = ()
) -> dict[str, str]:
    """What `manage.py check` would say about these thresholds together (risk.E007: the hard
    device limit below the soft one), by the name to blame (one of `given` if it can)."""
    soft, hard = cfg.max_accounts_per_device, cfg.max_accounts_per_device_hard
    if hard >= soft:
        return {}
    name = HARD_LIMIT if HARD_LIMIT in given or SOFT_LIMIT not in given else SOFT_LIMIT
    return {
        name: f"{HARD_LIMIT} ({hard}) would be below {SOFT_LIMIT} ({soft}): the hard limit is "
        "where holding for review ends and denying begins"
    }


def thresholds_validate(
    values: Mapping[str, Any], *, cfg: RiskSettings
) -> tuple[dict[str, Any], dict[str, str]]:
    """`thresholds_parse`, then the combination with `cfg`'s values for the names not given
    (the settings in force, for a form)."""
    parsed, problems = thresholds_parse(values)
    together = thresholds_combination_problems(thresholds_apply_to(cfg, parsed), given=values)
    return parsed, {**together, **problems}


def thresholds_apply_to(cfg: RiskSettings, values: Mapping[str, Any]) -> RiskSettings:
    """`cfg` with typed threshold values (by setting name) in place of its own."""
    changes = {BY_NAME[name].field: value for name, value in values.items() if value is not None}
    return cfg.replace(**changes) if changes else cfg


# --- the overrides in force in this process ---------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    overrides: dict[str, Any]  # name -> typed value, as last read
    read_at: float | None  # on _clock; None: read at the next call
    base: RiskSettings | None = None  # the resolved settings `in_force` was built from
    in_force: RiskSettings | None = None


_clock = time.monotonic  # tests move it
_loaded = _Loaded({}, None)
_swap = threading.Lock()  # guards replacing _loaded
_reading = threading.Lock()  # one thread of the process reads the table at a time
_local = threading.local()


def settings_in_force(base: RiskSettings) -> RiskSettings:
    """`base` (the resolved Django settings) with the overrides applied: the hook
    `risk.conf.risk_settings()` calls. Cheap: a clock read and two comparisons, plus the table
    read once a minute."""
    loaded = _loaded
    if loaded.read_at is None or _clock() - loaded.read_at >= RELOAD_S:
        loaded = _refresh(first=loaded.read_at is None)
    if loaded.base is base and loaded.in_force is not None:
        return loaded.in_force
    in_force = _overrides_apply(base, loaded.overrides)
    _store(loaded, _Loaded(loaded.overrides, loaded.read_at, base, in_force))
    return in_force


def thresholds_reload() -> dict[str, Any]:
    """Read the table now (the process that wrote it, a page that shows what is in force,
    tests); the overrides in force afterwards."""
    return _refresh(first=True).overrides


def threshold_overrides() -> dict[str, Any]:
    """The overrides this process applies, by name (read again when a minute old)."""
    loaded = _loaded
    if loaded.read_at is None or _clock() - loaded.read_at >= RELOAD_S:
        loaded = _refresh(first=loaded.read_at is None)
    return dict(loaded.overrides)


def thresholds_assume(overrides: Mapping[str, Any] | None = None) -> None:
    """Take `overrides` as just read from the table, without reading it: tests start from
    "no overrides" this way, whatever a previous test left in the process."""
    global _loaded
    with _swap:
        _loaded = _Loaded(dict(overrides or {}), _clock())


def overrides_read() -> dict[str, Any]:
    """The rows of the table that validate, typed, by name (raises when the table cannot be
    read). In a savepoint, so that a failed read inside a caller's transaction leaves it
    usable (PostgreSQL refuses every statement of a transaction after an error)."""
    with transaction.atomic():
        rows = dict(ThresholdSetting.objects.values_list("name", "value"))
    return overrides_valid(rows)


def overrides_valid(rows: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values (by name) that are thresholds and parse, typed; the others logged."""
    parsed, problems = thresholds_parse(rows)
    for name, problem in problems.items():
        logger.error("runtime threshold %s=%r ignored: %s", name, rows[name], problem)
    return {name: value for name, value in parsed.items() if value is not None}


def _refresh(*, first: bool) -> _Loaded:
    if getattr(_local, "reading", False):
        return _loaded  # called from within this thread's own read (a query hook, a log line)
    # The first read of a process waits for another thread's (deciding on the bare defaults
    # meanwhile would ignore the overrides); later ones let the other thread finish it.
    if not _reading.acquire(blocking=first):
        return _loaded
    _local.reading = True
    try:
        current = _loaded
        try:
            overrides = overrides_read()
        except Exception as exc:  # any database failure: the table missing, a dropped connection
            # Before the first `migrate` (its own checks read the settings) this is expected.
            level = logging.INFO if _table_missing() else logging.WARNING
            logger.log(
                level,
                "runtime thresholds not read (%s: %s); keeping the %d read last, next try "
                "in %.0f s",
                type(exc).__name__,
                exc,
                len(current.overrides),
                RELOAD_S,
            )
            overrides = current.overrides
        fresh = _Loaded(overrides, _clock())
        _store(None, fresh)
        return fresh
    finally:
        _local.reading = False
        _reading.release()


def _table_missing() -> bool:
    try:
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
    except Exception:  # the database itself is away: not a missing table
        return False
    return ThresholdSetting._meta.db_table not in tables


def _store(expected: _Loaded | None, new: _Loaded) -> None:
    """Replace the loaded state; with `expected`, only when no other thread replaced it since
    (a newer read must not be overwritten by settings built from an older one)."""
    global _loaded
    with _swap:
        if expected is None or _loaded is expected:
            _loaded = new


def _overrides_apply(base: RiskSettings, overrides: dict[str, Any]) -> RiskSettings:
    if not overrides:
        return base
    problems = thresholds_combination_problems(thresholds_apply_to(base, overrides))
    if problems:
        # Valid alone, but not with the Django settings of this process (changed since): the
        # Django settings win for the names involved.
        logger.error("runtime thresholds ignored: %s", problems)
        overrides = {n: v for n, v in overrides.items() if n not in (SOFT_LIMIT, HARD_LIMIT)}
    return thresholds_apply_to(base, overrides)
