"""Bring accounts over from Fingerprint's FastAPI quickstart (its SQLite `accounts` table).

The quickstart stores `id, username, password (plaintext!), visitorId`. Each importable row
becomes an account (password hashed with the project's hasher, or unusable), linked to its
Device, with a SignupAttempt (endpoint "import") so it shows in the review console. Devices
that end up with more than RISK_MAX_ACCOUNTS_PER_DEVICE accounts are duplicate-device clusters:
their imported accounts are held for review (inactive, review_status pending) like a live
signup over the limit would be.

Plaintext passwords live only in memory, for the moment it takes to hash one batch; they are
never logged, stored, or put in an exception message.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from risk import rules, selectors
from risk.conf import risk_settings
from risk.models import Device, ReviewStatus, SignupAttempt
from risk.services.devices import device_ensure
from risk.services.jobs import BackfillError, Batch, Progress, Tally, job_run

REQUIRED_COLUMNS = ("id", "username", "password", "visitorId")
# Fingerprint visitor ids are short alphanumeric strings; Device.visitor_id holds 64 chars.
VISITOR_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IMPORT_ENDPOINT = "import"
_username_validator = UnicodeUsernameValidator()


@dataclass(frozen=True)
class QuickstartRow:
    rowid: int
    id: object
    username: str
    visitor_id: str


class QuickstartFile:
    """Read-only access to the quickstart's database, with its schema checked up front."""

    def __init__(self, path: str) -> None:
        file = Path(path)
        if not file.is_file():
            raise BackfillError("file_not_found", f"{path}: no such file")
        self.path = str(file.resolve())
        try:
            self._db = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
            tables = self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND lower(name) = 'accounts'"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise BackfillError("not_sqlite", f"{path} is not a SQLite database: {exc}") from exc
        if not tables:
            raise BackfillError("missing_table", f"{path} has no `accounts` table")
        self.table = tables[0][0]
        columns = {row[1].lower(): row[1] for row in self._db.execute(
            f'PRAGMA table_info("{self.table}")'  # the name came from sqlite_master
        )}  # fmt: skip
        missing = [name for name in REQUIRED_COLUMNS if name.lower() not in columns]
        if missing:
            raise BackfillError(
                "missing_columns",
                f"`{self.table}` lacks column(s) {', '.join(missing)}; "
                f"expected {', '.join(REQUIRED_COLUMNS)}",
            )
        self.columns = {name: columns[name.lower()] for name in REQUIRED_COLUMNS}

    def close(self) -> None:
        self._db.close()

    def _select(self, names: list[str], after: int, limit: int | None) -> sqlite3.Cursor:
        cols = ", ".join(f'"{self.columns[name]}"' for name in names)
        sql = f'SELECT rowid, {cols} FROM "{self.table}" WHERE rowid > ? ORDER BY rowid'  # noqa: S608  (identifiers checked against the schema)
        if limit is not None:
            return self._db.execute(sql + " LIMIT ?", (after, limit))
        return self._db.execute(sql, (after,))

    def count(self) -> int:
        return self._db.execute(f'SELECT COUNT(*) FROM "{self.table}"').fetchone()[0]  # noqa: S608

    def rows(self, *, after: int = 0, limit: int | None = None) -> list[QuickstartRow]:
        """Rows without their passwords (the plan needs no plaintext)."""
        return [
            QuickstartRow(rowid, id_, _text(username), _text(visitor))
            for rowid, id_, username, visitor in self._select(
                ["id", "username", "visitorId"], after, limit
            )
        ]

    def passwords(self, rowids: list[int]) -> dict[int, str]:
        marks = ",".join("?" * len(rowids))
        sql = f'SELECT rowid, "{self.columns["password"]}" FROM "{self.table}" WHERE rowid IN ({marks})'  # noqa: S608, E501
        return {rowid: _text(value) for rowid, value in self._db.execute(sql, rowids)}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _username_problem(username: str) -> str:
    if not username.strip():
        return "invalid_username"
    if len(username) > 150:
        return "invalid_username"
    try:
        _username_validator(username)
    except ValidationError:
        return "invalid_username"
    return ""


@dataclass
class ImportPlan:
    """Which rows import, and which devices end up over the per-device limit."""

    total_rows: int
    importable: int
    skipped: Tally
    review_visitors: set[str]


def quickstart_plan(*, source: QuickstartFile, chunk: int = 2000) -> ImportPlan:
    """Read usernames and visitor ids (never passwords) to size each device's cluster."""
    skipped = Tally()
    seen: set[str] = set()
    per_visitor: Counter = Counter()
    importable = 0
    total = 0
    after = 0
    while rows := source.rows(after=after, limit=chunk):
        after = rows[-1].rowid
        total += len(rows)
        taken = selectors.usernames_taken(usernames=[r.username for r in rows])
        for row in rows:
            outcome = _row_skip(row, taken, seen)
            if outcome:
                skipped.add(outcome)
                continue
            importable += 1
            if row.visitor_id:
                per_visitor[row.visitor_id] += 1
    limit = risk_settings().max_accounts_per_device
    existing = selectors.device_account_counts(visitor_ids=list(per_visitor))
    trusted = selectors.devices_trusted(visitor_ids=list(per_visitor))
    review = {
        visitor
        for visitor, n in per_visitor.items()
        if visitor not in trusted and existing.get(visitor, 0) + n > limit
    }
    return ImportPlan(total, importable, skipped, review)


def _row_skip(row: QuickstartRow, taken: set[str], seen: set[str]) -> str:
    """'' when the row imports, else why not. Marks the username as seen."""
    problem = _username_problem(row.username)
    if problem:
        return problem
    if row.visitor_id and not VISITOR_ID_RE.match(row.visitor_id):
        return "invalid_visitor_id"
    lowered = row.username.lower()
    if lowered in taken or lowered in seen:
        return "username_exists"
    seen.add(lowered)
    return ""


def _hash_all(passwords: list[str | None], workers: int) -> list[str]:
    # Argon2 releases the GIL: threads hash in parallel on all cores.
    if workers <= 1:
        return [make_password(p) for p in passwords]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import-hash") as pool:
        return list(pool.map(make_password, passwords))


def quickstart_import(
    *,
    source: QuickstartFile,
    plan: ImportPlan,
    reset_passwords: bool = False,
    keep_active: bool = False,
    workers: int = 2,
    batch_size: int = 200,
    progress: Progress | None = None,
) -> Tally:
    """Import the rows in rowid order; resumable (checkpoint per file), safe to rerun."""
    tally = Tally()
    seen: set[str] = set()

    def next_batch(state: dict) -> Batch | None:
        tally.counts = Counter(state["counts"])
        rows = source.rows(after=state["after"], limit=batch_size)
        if not rows:
            return None
        taken = selectors.usernames_taken(usernames=[r.username for r in rows])
        keep = []
        for row in rows:
            outcome = _row_skip(row, taken, seen)
            if outcome:
                tally.add(outcome)
            else:
                keep.append(row)
        if reset_passwords:
            hashes = _hash_all([None] * len(keep), workers)
        else:
            plaintext = source.passwords([r.rowid for r in keep])
            # An empty password cannot log in: make it unusable rather than hash "".
            hashes = _hash_all([plaintext.get(r.rowid) or None for r in keep], workers)
            del plaintext

        def write(_: dict) -> dict:
            _accounts_create(
                rows=keep, hashes=hashes, plan=plan, keep_active=keep_active, tally=tally
            )
            return {"after": rows[-1].rowid, "counts": tally.as_dict()}

        return Batch(size=len(rows), write=write)

    job_run(
        name=f"import_quickstart:{source.path}",
        initial={"after": 0, "counts": {}},
        next_batch=next_batch,
        progress=progress,
    )
    return tally


def _accounts_create(
    *, rows: list[QuickstartRow], hashes: list[str], plan: ImportPlan, keep_active: bool, tally
) -> None:
    devices, _ = device_ensure(platforms={r.visitor_id: "" for r in rows})
    user_model = get_user_model()
    for row, password_hash in zip(rows, hashes, strict=True):
        review = row.visitor_id in plan.review_visitors
        user = user_model(password=password_hash, is_active=keep_active or not review)
        setattr(user, user_model.USERNAME_FIELD, row.username)
        device_id = devices.get(row.visitor_id)
        try:
            with transaction.atomic():  # savepoint: a live signup may take the name meanwhile
                user.save()
                SignupAttempt.objects.create(
                    username=row.username,
                    event_id="",
                    device_id=device_id,
                    visitor_id=row.visitor_id,
                    decision=rules.REVIEW if review else rules.ALLOW,
                    reasons=["device_shared"] if review else [],
                    account=user,
                    endpoint=IMPORT_ENDPOINT,
                    review_status=ReviewStatus.PENDING if review else ReviewStatus.NONE,
                )
        except IntegrityError:
            tally.add("username_exists")
            continue
        if device_id:
            Device.objects.filter(pk=device_id).update(
                account_count=F("account_count") + 1, attempt_count=F("attempt_count") + 1
            )
        tally.add("imported_review" if review else "imported")
