"""Time erasure, export and the retention purge on PostgreSQL at scale.

    .venv/bin/python bench/privacy_scale.py [--rows 200000] [--db fpdjango_privacy_bench]
                                            [--batch-size 1000] [--days 45]

1. creates the database when missing, migrates it and seeds it with the review-console
   benchmark's data (`bench/admin_scale.py`: attempts spread over 90 days, one ~1.5 KB raw
   event each, DRN answers (here also spread over 90 days), 10% held for review). The purge
   changes the data, so every run seeds afresh;
2. times `erase_person` for one ordinary person (by email) and for a farm device (by visitor id,
   ~1% of all attempts): finding the rows, the export, the erasure transaction. Fingerprint's
   deletion is a no-op here (one HTTP call per visitor, timed by the client tests' budget);
3. times `purge_snapshots --days N` (default 45: about half of the rows are older): rows
   stripped per second and per phase, plus the run's total.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres). Record `uptime` next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from admin_scale import psql, seed, setup_django  # the same folder


def timed(label: str, func, **kwargs):
    started = time.perf_counter()
    result = func(**kwargs)
    print(f"| {label} | {(time.perf_counter() - started) * 1000:,.0f} ms |", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--db", default="fpdjango_privacy_bench")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--days", type=int, default=45)
    args = parser.parse_args()

    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{args.db}'"):
        psql(f'CREATE DATABASE "{args.db}"')
    setup_django(args.db)
    from django.core.management import call_command

    from risk.models import SignupAttempt
    from risk.services import privacy, retention

    call_command("migrate", verbosity=0)
    print(f"seeding {args.rows:,} attempts into {args.db} ...", flush=True)
    seed(args.rows)
    # The seed's DRN answers are all fresh; spread them over 90 days like the attempts.
    psql("UPDATE risk_drnsnapshot SET fetched_at = now() - (id % 90) * interval '1 day'", args.db)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload: {load}  rows: {args.rows:,} attempts\n")
    print("| step | time |")
    print("| --- | ---: |")

    person = SignupAttempt.objects.get(pk=args.rows // 2 + 1)  # not on a farm device
    farm = SignupAttempt.objects.filter(device_id=1).first()
    no_call = lambda visitor_id: None  # noqa: E731
    for label, lookup in (
        ("one person by email", {"email": person.email}),
        (
            f"farm device by visitor id ({farm.device.attempt_count} attempts)",
            {"visitor_id": farm.visitor_id},
        ),
    ):
        subject = timed(f"{label}: find", privacy.person_find, **lookup)
        export = timed(f"{label}: export", privacy.person_export, subject=subject)
        size = len(json.dumps(export))
        timed(
            f"{label}: erase ({size / 1024:,.0f} KiB exported)",
            privacy.person_erase,
            subject=subject,
            reason="bench",
            matched_by="bench",
            fingerprint_delete=no_call,
        )

    phases = {}
    last = [time.perf_counter()]

    def lap(state: dict) -> None:
        now = time.perf_counter()
        phases[state["phase"]] = phases.get(state["phase"], 0.0) + now - last[0]
        last[0] = now

    tally = timed(
        f"purge_snapshots --days {args.days} --batch-size {args.batch_size}",
        retention.snapshots_purge_expired,
        days=args.days,
        batch_size=args.batch_size,
        after_batch=lap,
    )
    counts = tally.as_dict()
    names = ["events_stripped", "drn_snapshots_stripped", "attempts_stripped"]
    for number, name in enumerate(names):
        rows, seconds = counts.get(name, 0), phases.get(number, 0.0)
        rate = rows / seconds if seconds else 0
        print(f"| purge phase {name}: {rows:,} rows | {seconds:,.1f} s ({rate:,.0f} rows/s) |")


if __name__ == "__main__":
    main()
