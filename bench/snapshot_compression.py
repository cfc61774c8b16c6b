"""PostgreSQL's CPU to store one raw event snapshot, per TOAST compression of the jsonb column.

    .venv/bin/python bench/snapshot_compression.py \
        --event-file ../shared/fixtures/fingerprint/v4_get_event_200.json   # docs/benchmarks.md
    .venv/bin/python bench/snapshot_compression.py --rows 2000 --rounds 3   # a sandbox event

Every signup, refused or not, stores its event's raw JSON (`FingerprintEvent.raw`, jsonb).
Fingerprint's example v4 event is 6-8 KB of JSON (a sandbox event about 2 KB), over
PostgreSQL's 2 KB TOAST threshold, so PostgreSQL compresses each one as it is inserted: with
pglz (its default) or lz4 (PostgreSQL 14+, when built with it; migration risk 0011 chooses
lz4). Inserts `--rows` distinct events per policy into scratch tables in a scratch database,
one server-side statement per batch so that only PostgreSQL's own work is timed, and
alternates the policies for `--rounds` rounds. Prints the best and median milliseconds per row
and the stored size per row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.profiles import build_event

POLICIES = {
    "pglz (PostgreSQL's default)": "COMPRESSION pglz",
    "lz4 (fpdjango, migration 0011)": "COMPRESSION lz4",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
        help="a database to connect to while the scratch database is created and dropped",
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--event-file",
        help="an event's JSON to store (e.g. ../shared/fixtures/fingerprint/v4_get_event_200.json,"
        " read in place); default: a sandbox human event",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if args.event_file:
        text = json.dumps(json.loads(Path(args.event_file).read_text()))
    else:
        text = json.dumps(
            build_event("human", visitor_id="bench-visitor", timestamp=1_764_000_000_000)
        )
    scratch = "fpdjango_snapshot_compression"
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch}")
        admin.execute(f"CREATE DATABASE {scratch}")
    url = make_conninfo(args.database_url, dbname=scratch)  # keeps sslmode and the rest
    timings: dict[str, list[float]] = {name: [] for name in POLICIES}
    sizes: dict[str, float] = {}
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for number, clause in enumerate(POLICIES.values()):
                conn.execute(f"CREATE TABLE t{number} (id serial PRIMARY KEY, raw jsonb {clause})")
            for _ in range(args.rounds):
                for number, name in enumerate(POLICIES):
                    conn.execute(f"TRUNCATE t{number}")
                    started = time.perf_counter()
                    # Distinct rows, as in production: each event differs in its id and time.
                    conn.execute(
                        f"INSERT INTO t{number} (raw) SELECT %s::jsonb || jsonb_build_object("
                        "'event_id', 'e' || g, 'timestamp', g) FROM generate_series(1, %s) g",
                        (text, args.rows),
                    )
                    timings[name].append((time.perf_counter() - started) * 1000 / args.rows)
                    sizes[name] = conn.execute(
                        f"SELECT avg(pg_column_size(raw)) FROM t{number}"
                    ).fetchone()[0]
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {scratch}")

    report = {
        "event_bytes": len(text),
        "rows": args.rows,
        "rounds": args.rounds,
        "policies": {
            name: {
                "best_ms_per_row": round(min(timings[name]), 4),
                "median_ms_per_row": round(statistics.median(timings[name]), 4),
                "stored_bytes_per_row": round(float(sizes[name])),
            }
            for name in POLICIES
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"event: {report['event_bytes']} bytes of JSON; {args.rows} rows x {args.rounds} rounds")
    print("| compression | best ms/row | median ms/row | stored bytes/row |\n|---|---|---|---|")
    for name, row in report["policies"].items():
        print(
            f"| {name} | {row['best_ms_per_row']} | {row['median_ms_per_row']} |"
            f" {row['stored_bytes_per_row']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
