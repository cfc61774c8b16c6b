"""SQLite persistence for the sandbox: events, DRN seeds, faults and settings.

One connection guarded by a lock: every query is a primary-key or indexed lookup taking
microseconds, so serialising them is far cheaper than the HTTP parsing around them, and it lets
`:memory:` databases work across threads. File databases use WAL so a restart keeps the data.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    platform TEXT NOT NULL,
    bot TEXT,
    suspect_score INTEGER NOT NULL DEFAULT 0,
    vpn INTEGER NOT NULL DEFAULT 0,
    ip TEXT,
    country TEXT,
    linked_id TEXT,
    suspect_flag INTEGER,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events (timestamp DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS events_visitor ON events (visitor_id, timestamp);
CREATE INDEX IF NOT EXISTS events_ip ON events (ip, timestamp);
CREATE TABLE IF NOT EXISTS drn_seeds (visitor_id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faults (id INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    suspect INTEGER NOT NULL,
    api TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
"""

INSERT_EVENT = (
    "INSERT OR REPLACE INTO events (event_id, visitor_id, timestamp, platform, bot, "
    "suspect_score, vpn, ip, country, linked_id, json) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


def event_row(event: dict[str, Any], text: str | None = None) -> tuple[Any, ...]:
    """The column values for one v4 event (text: its JSON, when already serialised)."""
    info = event.get("ip_info") or {}
    geo = (info.get("v4") or info.get("v6") or {}).get("geolocation") or {}
    return (
        event["event_id"],
        (event.get("identification") or {}).get("visitor_id", ""),
        int(event["timestamp"]),
        (event.get("sdk") or {}).get("platform", "js"),
        event.get("bot"),
        int(event.get("suspect_score") or 0),
        1 if event.get("vpn") else 0,
        event.get("ip_address"),
        geo.get("country_code"),
        _column_text(event.get("linked_id")),
        text if text is not None else json.dumps(event, separators=(",", ":")),
    )


def _column_text(value: Any) -> Any:
    """A search column's copy of client text: SQLite takes no lone surrogate (the event's JSON,
    escaped, keeps it exactly as sent)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


@dataclass
class Fault:
    target: str = "all"  # events | drn | all
    latency_ms: int = 0
    status: int | None = None
    remaining: int | None = None  # None: until cleared

    def matches(self, target: str) -> bool:
        return self.target in ("all", target)


@dataclass
class SearchFilter:
    start: int
    end: int
    visitor_id: str | None = None
    bot: str | None = None  # all | good | bad | none
    suspect: bool | None = None
    vpn: bool | None = None
    min_suspect_score: int | None = None
    linked_id: str | None = None
    ip_address: str | None = None
    before: tuple[int, str] | None = None  # pagination cursor: (timestamp, event_id)


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            # A simulator can lose its last writes on an OS crash; bulk loads run ~2x faster.
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("PRAGMA cache_size=-65536")
        self._db.executescript(SCHEMA)
        # Faults are checked on every API request: keep them in memory, write through to disk.
        self._faults: list[tuple[int, Fault]] = [
            (row[0], Fault(**json.loads(row[1])))
            for row in self._db.execute("SELECT id, json FROM faults ORDER BY id")
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- events ------------------------------------------------------------------------

    def insert_event(self, event: dict[str, Any]) -> str:
        """Store an event; returns its JSON text."""
        row = event_row(event)
        with self._lock:
            self._db.execute(INSERT_EVENT, row)
        return row[-1]

    def insert_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Bulk insert of `event_row` tuples in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(INSERT_EVENT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def event_json(self, event_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT json FROM events WHERE event_id = ?", (event_id,)
            ).fetchone()
        return row[0] if row else None

    def event_meta(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT json, suspect_flag FROM events WHERE event_id = ?", (event_id,)
            ).fetchone()
        if row is None:
            return None
        flag = None if row[1] is None else bool(row[1])
        return {"event": json.loads(row[0]), "suspect": flag}

    def update_event(self, event: dict[str, Any], suspect: bool | None = None) -> None:
        row = event_row(event)
        with self._lock:
            self._db.execute(
                "UPDATE events SET linked_id = ?, json = ?, "
                "suspect_flag = COALESCE(?, suspect_flag) WHERE event_id = ?",
                (row[9], row[10], None if suspect is None else int(suspect), row[0]),
            )

    def feedback_add(self, event_id: str, suspect: bool, *, api: str, received_at: int) -> None:
        """Remember a suspect flag an API call set (what Fingerprint was told, in order)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (event_id, suspect, api, received_at) VALUES (?, ?, ?, ?)",
                (event_id, int(suspect), api, received_at),
            )

    def feedback(self, event_id: str | None = None) -> list[dict[str, Any]]:
        """The suspect flags received, oldest first (one event's, or all)."""
        sql = "SELECT event_id, suspect, api, received_at FROM feedback"
        args: tuple[Any, ...] = ()
        if event_id is not None:
            sql, args = sql + " WHERE event_id = ?", (event_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [
            {"event_id": row[0], "suspect": bool(row[1]), "api": row[2], "received_at": row[3]}
            for row in rows
        ]

    def visitor_span(self, visitor_id: str, before_ms: int) -> tuple[int | None, int | None]:
        """(first, last) timestamps of the visitor's events before `before_ms`."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(timestamp), MAX(timestamp) FROM events "
                "WHERE visitor_id = ? AND timestamp < ?",
                (visitor_id, before_ms),
            ).fetchone()
        return row[0], row[1]

    def recent_by_visitor(self, visitor_id: str, since_ms: int) -> list[tuple[Any, ...]]:
        """(timestamp, ip, country, linked_id) of the visitor's events since `since_ms`."""
        with self._lock:
            return self._db.execute(
                "SELECT timestamp, ip, country, linked_id FROM events "
                "WHERE visitor_id = ? AND timestamp >= ?",
                (visitor_id, since_ms),
            ).fetchall()

    def recent_by_ip(self, ip: str, since_ms: int) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT timestamp FROM events WHERE ip = ? AND timestamp >= ?", (ip, since_ms)
            ).fetchall()
        return [row[0] for row in rows]

    def recent_by_linked_id(self, linked_id: str, since_ms: int) -> list[tuple[Any, ...]]:
        """(timestamp, ip, visitor_id) of events with this linked_id since `since_ms`."""
        with self._lock:
            return self._db.execute(
                "SELECT timestamp, ip, visitor_id FROM events "
                "WHERE linked_id = ? AND timestamp >= ?",
                (linked_id, since_ms),
            ).fetchall()

    def visitor_events(self, visitor_id: str) -> list[tuple[int, str, int, str]]:
        """(timestamp, platform, suspect_score, json) of all the visitor's events, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT timestamp, platform, suspect_score, json FROM events "
                "WHERE visitor_id = ? ORDER BY timestamp",
                (visitor_id,),
            ).fetchall()

    def search(self, flt: SearchFilter, limit: int) -> list[tuple[int, str, str]]:
        """(timestamp, event_id, json), newest first."""
        where = ["timestamp >= ?", "timestamp <= ?"]
        args: list[Any] = [flt.start, flt.end]
        if flt.before is not None:
            where.append("(timestamp < ? OR (timestamp = ? AND event_id < ?))")
            args += [flt.before[0], flt.before[0], flt.before[1]]
        for column, value in (
            ("visitor_id", flt.visitor_id),
            ("linked_id", flt.linked_id),
            ("ip", flt.ip_address),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if flt.bot in ("good", "bad"):
            where.append("bot = ?")
            args.append(flt.bot)
        elif flt.bot == "none":
            where.append("(bot IS NULL OR bot = 'not_detected')")
        if flt.suspect is not None:
            where.append("suspect_score > 0" if flt.suspect else "suspect_score = 0")
        if flt.vpn is not None:
            where.append("vpn = ?")
            args.append(int(flt.vpn))
        if flt.min_suspect_score is not None:
            where.append("suspect_score >= ?")
            args.append(flt.min_suspect_score)
        # Only fixed fragments are joined; every value is a bound parameter.
        conditions = " AND ".join(where)
        sql = (
            f"SELECT timestamp, event_id, json FROM events WHERE {conditions} "  # noqa: S608
            "ORDER BY timestamp DESC, event_id DESC LIMIT ?"
        )
        with self._lock:
            return self._db.execute(sql, (*args, limit)).fetchall()

    def delete_visitor(self, visitor_id: str) -> int:
        """Delete the visitor's events and DRN seed; returns how many events went."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM events WHERE visitor_id = ?", (visitor_id,))
            self._db.execute("DELETE FROM drn_seeds WHERE visitor_id = ?", (visitor_id,))
        return cursor.rowcount

    def set_drn_seed(self, visitor_id: str, seed: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO drn_seeds (visitor_id, json) VALUES (?, ?)",
                (visitor_id, json.dumps(seed)),
            )

    def drn_seed(self, visitor_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT json FROM drn_seeds WHERE visitor_id = ?", (visitor_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    # --- faults --------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO faults (json) VALUES (?)", (json.dumps(fault.__dict__),)
            )
            self._faults.append((cursor.lastrowid or 0, fault))

    def clear_faults(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM faults")
            self._faults.clear()

    def faults(self) -> list[Fault]:
        with self._lock:
            return [fault for _, fault in self._faults]

    def take_fault(self, target: str) -> Fault | None:
        """The first active fault for `target`, consuming one of its uses."""
        if not self._faults:  # the common case: no lock, no query
            return None
        with self._lock:
            for index, (row_id, fault) in enumerate(self._faults):
                if not fault.matches(target):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                        self._db.execute("DELETE FROM faults WHERE id = ?", (row_id,))
                    else:
                        self._db.execute(
                            "UPDATE faults SET json = ? WHERE id = ?",
                            (json.dumps(fault.__dict__), row_id),
                        )
                return Fault(**fault.__dict__)
        return None

    # --- settings ------------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._db.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value)
                )

    def reset(self) -> None:
        with self._lock:
            self._db.executescript(
                "DELETE FROM events; DELETE FROM drn_seeds; DELETE FROM faults; "
                "DELETE FROM settings; DELETE FROM feedback;"
            )
            self._faults.clear()
