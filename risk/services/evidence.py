"""A signup's evidence in one PostgreSQL statement: device, event snapshot, attempt.

Every decided signup writes rows that point at each other: the device (upserted, or already
locked), the event snapshot with its raw JSON, the attempt claiming the event, and for an
allowed or held attempt the account slot on the device. Through the ORM that is a
transaction, a savepoint and up to eight round trips; one data-modifying CTE writes them in a
single round trip, and a lock-free refusal holds the device row lock only for that statement.
The INSERTs are built from the model instances with the ORM's own pre_save and value
adaptation, so the rows are the ORM's rows. Other databases take the ORM path
(`single_statement_supported`).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from risk.models import Device, DeviceStatus, FingerprintEvent, SignupAttempt

# Creates the device or counts one attempt on it, and returns the row. The upsert takes the row
# lock (held until commit, like SELECT ... FOR UPDATE; SQLite's IMMEDIATE transaction already
# serialises writers). Portable: PostgreSQL, and SQLite >= 3.35, support ON CONFLICT ...
# RETURNING. Used alone under the signup's lock, and as the first part of the statement below.
DEVICE_UPSERT_SQL = """
INSERT INTO risk_device (visitor_id, platform, status, first_seen_at, last_seen_at,
                         account_count, attempt_count, drn_lookup_pending)
VALUES (%s, %s, %s, %s, %s, 0, 1, %s)
ON CONFLICT (visitor_id) DO UPDATE
   SET last_seen_at = excluded.last_seen_at, attempt_count = risk_device.attempt_count + 1
RETURNING id, visitor_id, status, account_count
"""
DEVICE_UPSERT_FIELDS = ["id", "visitor_id", "status", "account_count"]
_LOCKED_DEVICE_SQL = (
    "dev AS (SELECT id, visitor_id, status, account_count FROM risk_device WHERE id = %s)"
)
_RESERVE_SLOT_SQL = """slot AS (
  UPDATE risk_device SET account_count = account_count + 1
   WHERE id = (SELECT id FROM dev) AND EXISTS (SELECT 1 FROM att) RETURNING id)"""
_RESULT_SQL = """
SELECT dev.id, dev.visitor_id, dev.status, dev.account_count,
       (SELECT id FROM snap), (SELECT id FROM att)
  FROM dev"""


def device_upsert_params(*, visitor_id: str, platform: str, now) -> list:
    return [visitor_id, platform, DeviceStatus.NORMAL, now, now, False]


def single_statement_supported() -> bool:
    """Data-modifying CTEs are PostgreSQL's (SQLite has ON CONFLICT but not these)."""
    return connection.vendor == "postgresql"


def evidence_write(
    *,
    attempt: SignupAttempt,
    snapshot: FingerprintEvent | None,
    event_id: str,
    device_params: list | None = None,
    device_id: int | None = None,
    reserve_slot: bool = False,
) -> Device:
    """Store `snapshot` (None: the event is already stored, link that row) and insert
    `attempt`, claiming its `claimed_event_id`, in one statement. The device is either
    upserted by the same statement (`device_params`: the lock-free refusal, autocommit) or
    already locked by the caller's transaction (`device_id`). `reserve_slot` counts the
    account the attempt may create on the device, if the attempt was inserted.

    Fills in the ids on `attempt` (and `snapshot`) and returns the device as the statement
    saw it. `attempt.pk` stays None when another attempt holds the claim: nothing was inserted
    for it and no slot reserved (the device and the snapshot were written), and the caller
    records it unclaimed.
    """
    if device_params is not None:
        params: list = list(device_params)
        parts = [f"dev AS ({DEVICE_UPSERT_SQL})"]
    else:
        params = [device_id]
        parts = [_LOCKED_DEVICE_SQL]
    device_sql = "(SELECT id FROM dev)"
    if snapshot is not None:
        columns, values, snap_params = _insert_values(snapshot, sql={"device": device_sql})
        kept = {connection.ops.quote_name(name) for name in ("event_id", "fetched_at")}
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in kept)
        parts.append(
            "snap AS ("
            + _insert_sql("risk_fingerprintevent", columns, values)
            + f" ON CONFLICT (event_id) DO UPDATE SET {updates} RETURNING id)"
        )
        params += snap_params
    else:
        parts.append("snap AS (SELECT id FROM risk_fingerprintevent WHERE event_id = %s)")
        params.append(event_id)
    attempt.derived_fields_fill()
    columns, values, attempt_params = _insert_values(
        attempt, sql={"device": device_sql, "fingerprint_event": "(SELECT id FROM snap)"}
    )
    parts.append(
        "att AS ("
        + _insert_sql("risk_signupattempt", columns, values)
        + " ON CONFLICT (claimed_event_id) DO NOTHING RETURNING id)"
    )
    params += attempt_params
    if reserve_slot:
        parts.append(_RESERVE_SLOT_SQL)
    sql = "WITH " + ",\n".join(parts) + _RESULT_SQL
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        *device_row, snapshot_id, attempt_id = cursor.fetchone()
    device = Device.from_db(connection.alias, DEVICE_UPSERT_FIELDS, device_row)
    attempt.device = device
    if snapshot is not None:
        _saved(snapshot, snapshot_id)
        attempt.fingerprint_event = snapshot
    else:
        attempt.fingerprint_event_id = snapshot_id
    if attempt_id is not None:
        _saved(attempt, attempt_id)
    return device


def _insert_sql(table: str, columns: list[str], values: list[str]) -> str:
    # Identifiers come from the models' metadata and values are placeholders or our own
    # subqueries: nothing from a request reaches the SQL text.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"  # noqa: S608


def _insert_values(obj: Model, *, sql: dict[str, str]) -> tuple[list[str], list[str], list]:
    """Columns, placeholders and parameters to INSERT `obj` as the ORM would (pre_save fills
    auto_now_add and friends; get_db_prep_save adapts JSON, inet...). `sql` gives foreign
    keys as SQL expressions (another part's id) instead of values."""
    db = connections[DEFAULT_DB_ALIAS]  # resolved once: the proxy looks it up per access
    columns, values, params = [], [], []
    for field, column in _insert_columns(type(obj), db.vendor):
        columns.append(column)
        expression = sql.get(field.name)
        if expression is not None:
            values.append(expression)
            continue
        values.append("%s")
        value: Any = field.pre_save(obj, add=True)
        params.append(field.get_db_prep_save(value, db))
    return columns, values, params


@functools.cache
def _insert_columns(model: type[Model], vendor: str) -> tuple[tuple[Field, str], ...]:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return tuple(
        (field, quote(field.column))
        for field in model._meta.concrete_fields
        if not field.primary_key
    )


def _saved(obj: Model, pk: int) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
