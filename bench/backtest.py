"""Time a 30-day backtest over 1,000,000 stored signup attempts on PostgreSQL.

    .venv/bin/python bench/backtest.py [--rows 1000000] [--db fpdjango_bench_backtest]
                                       [--reseed] [--workers 1,2] [--skip-single]

1. creates the database (default `fpdjango_bench_backtest`, never the test database) when
   missing and migrates it;
2. seeds it once, in SQL (`INSERT ... SELECT generate_series`): 33 template events built by the
   sandbox's event builder (`sandbox.profiles.build_event`: people's browsers and phones, VPN,
   Tor, incognito, bad bots, anti-detect browsers, emulator farms, suspect scores 0-25), each
   row a copy with its own event id, time, visitor and IP (~2 KB of jsonb); 250,000 devices
   (a fifth Android, with a DRN snapshot each; 1 in 499 blocked); attempts spread over 29.9
   days with the facts a signup records (a device's second account, other new devices on the
   IP) and the decision the rules give them; held attempts labelled by reviewers (half
   approved, 30% rejected); 1% of snapshots purged. Reruns keep the data (`--reseed`);
3. measures, in this run: the rules' own cost per evaluation (the baseline), the backtest in
   one process (`risk.services.backtest.backtest_run`), where its time goes (per step, and a
   cProfile of 20,000 attempts), and the console's run (`backtest_start`) in `--workers`
   Celery worker processes (prefork; one per core by default; `1,2` runs each), from the click
   to the figures.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (database 8,
a key prefix and queue of its own) for the workers. Record `uptime` next to the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack import psql  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/8"
QUEUE = f"bench-backtest-{os.getpid()}"
VALUES = {"RISK_SUSPECT_SCORE_REVIEW": 20}
DAY_MS = 86_400_000


def environment(db: str) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "fpdjango.test_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": QUEUE,
        "CELERY_QUEUE": QUEUE,
        "LOG_FORMAT": "plain",
        "LOG_LEVEL": "WARNING",
    }


def setup_django(db: str) -> None:
    os.environ.update(environment(db))
    import django

    django.setup()


# --- the seed ---------------------------------------------------------------------------------

# (profile, days Fingerprint has known the device (0: brand new), suspect scores, weight)
MIX = [
    ("human", 120, [0, 0, 0, 2, 3, 5, 5, 7, 9, 12, 14, 17], 52),
    ("human", 0, [0, 2, 5], 8),
    ("android", 200, [0, 0, 3, 8], 10),
    ("vpn", 60, [5, 8, 12, 15], 6),
    ("incognito", 30, [0, 2], 4),
    ("ios", 90, [0, 3], 4),
    ("tor", 10, [10, 13], 2),
    ("bad_bot", 0, [25], 6),
    ("tampering", 5, [19, 22], 4),
    ("farm", 0, [24], 4),
]
# Facts a signup records, by variant: (accounts already on the device, an earlier signup of
# the device came from this network, other brand-new devices on the IP within the hour).
# Shares: 80% the first, 8% each of the next two, 4% the last.
VARIANTS = [(0, None, 0), (1, True, 0), (0, None, 2), (2, False, 0)]


def templates() -> tuple[list[tuple], list[int]]:
    """[(k, platform, score, age_ms, raw json)] and 100 slots naming a template by weight."""
    from sandbox.profiles import History, build_event

    rows, slots = [], []
    for profile, days, scores, weight in MIX:
        for score in scores:
            k = len(rows)
            visitor = f"TEMPLATE{k:012d}"
            history = History(first_seen_at=-days * DAY_MS, last_seen_at=-DAY_MS) if days else None
            raw = build_event(profile, visitor_id=visitor, timestamp=0, history=history)
            raw["suspect_score"] = score
            rows.append((k, raw["sdk"]["platform"], score, days * DAY_MS, json.dumps(raw)))
            slots += [k] * max(1, round(weight / len(scores)))
    while len(slots) < 100:
        slots.append(0)
    return rows, slots[:100]


def decisions(rows: list[tuple]) -> list[tuple]:
    """(k, variant, decision, reasons) the rules give each template under each variant."""
    from datetime import UTC, datetime

    from risk import rules
    from risk.conf import risk_settings
    from risk.fingerprint.events import normalise_event

    out = []
    t0 = 1_780_000_000_000
    for k, _, _, age_ms, text in rows:
        raw = json.loads(text)
        raw["timestamp"] = t0
        raw["identification"]["first_seen_at"] = t0 - age_ms
        raw["identification"]["visitor_found"] = age_ms > 0
        event = normalise_event(raw)
        for v, (accounts, same, new_on_ip) in enumerate(VARIANTS):
            ctx = rules.SignupContext(
                event=event,
                now=datetime.fromtimestamp(t0 / 1000 + 2, UTC),
                client_ip=raw["ip_address"],
                device_accounts=accounts,
                same_network=same,
                ip_new_devices=new_on_ip,
            )
            verdict = rules.evaluate_signup(ctx, risk_settings())
            out.append((k, v, str(verdict.decision), json.dumps(verdict.reasons)))
    return out


SEED_SQL = """
TRUNCATE risk_reviewdecision, risk_reassessment, risk_signupattempt, risk_drnsnapshot,
         risk_fingerprintevent, risk_device RESTART IDENTITY CASCADE;
DELETE FROM risk_backfillcheckpoint WHERE name LIKE 'backtest%';

INSERT INTO risk_device (visitor_id, platform, status, first_seen_at, last_seen_at,
                         account_count, attempt_count, drn_lookup_pending)
SELECT substr(md5('v' || g), 1, 20), CASE WHEN g % 5 = 0 THEN 'android' ELSE 'js' END,
       CASE WHEN g % 499 = 0 THEN 'blocked' ELSE 'normal' END,
       now() - interval '90 days', now(), 1, 1, false
FROM generate_series(1, @DEVICES@) AS g;

INSERT INTO risk_drnsnapshot (device_id, visitor_id, fetched_at, status, error, raw, countries,
    text_replaced, location_masked, min_suspect_score, max_suspect_score, max_percentile,
    first_seen_at, last_seen_at)
SELECT id, visitor_id, now(), 'ok', '', '{}'::jsonb,
       '[{"code": "US", "ip": 1.0, "origin": 1.0}]'::jsonb, '[]'::jsonb, false, 0, 5, 0.4,
       now() - interval '300 days', now()
FROM risk_device WHERE platform = 'android';

CREATE UNLOGGED TABLE bench_rows AS
SELECT g, t.k,
       CASE (g / 7) % 25 WHEN 0 THEN 3 WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 2 WHEN 4 THEN 2
            ELSE 0 END AS v,
       CASE WHEN t.platform = 'android' THEN 5 * (1 + h % (@DEVICES@ / 5))
            ELSE 5 * (h % (@DEVICES@ / 5)) + 1 + h % 4 END AS device_id,
       @END_MS@ - (@ROWS@ - g) * (29.9 * 86400000 / @ROWS@)::bigint AS ts_ms,
       '73.' || (g / 65536) % 256 || '.' || (g / 256) % 256 || '.' || g % 256 AS ip,
       (1700000000000 + g)::text || '.' || substr(md5(g::text), 1, 6) AS event_id
FROM (SELECT g, (hashint4(g) & 2147483647) AS h FROM generate_series(1, @ROWS@) AS g) AS s
JOIN bench_slots p ON p.slot = s.g % 100
JOIN bench_templates t ON t.k = p.k;

INSERT INTO risk_fingerprintevent (event_id, api_version, device_id, visitor_id, timestamp, ip,
    url, platform, confidence, bot, bot_type, suspect_score, vpn, proxy, tampering, incognito,
    tor, replayed, country_code, asn_name, raw, text_replaced, fetched_at)
SELECT r.event_id, 'v4', r.device_id, d.visitor_id, to_timestamp(r.ts_ms / 1000.0),
       r.ip::inet, '', t.platform, 0.99, '', '', t.score, false, false, false, false, false,
       false, 'US', 'COMCAST-7922',
       CASE WHEN r.g % 100 = 37 THEN '{}'::jsonb  -- purged by retention
       ELSE jsonb_set(jsonb_set(jsonb_set(
              t.raw || jsonb_build_object('event_id', r.event_id, 'timestamp', r.ts_ms,
                                          'ip_address', r.ip),
              '{identification,visitor_id}', to_jsonb(d.visitor_id)),
              '{identification,first_seen_at}', to_jsonb(r.ts_ms - t.age_ms)),
              '{identification,last_seen_at}', to_jsonb(r.ts_ms - 60000)) END,
       '[]'::jsonb, to_timestamp(r.ts_ms / 1000.0)
FROM bench_rows r JOIN risk_device d ON d.id = r.device_id JOIN bench_templates t ON t.k = r.k
ORDER BY r.g;

INSERT INTO risk_signupattempt (created_at, reference, username, email, email_domain_rev,
    client_ip, client_network, origin, event_id, claimed_event_id, fingerprint_event_id,
    device_id, visitor_id, decision, reasons, facts, device_new, checks, account_id, endpoint,
    fingerprint_error, review_status, drn_snapshot_id)
SELECT to_timestamp(r.ts_ms / 1000.0) + (r.g % 5) * interval '1 second',
       translate(substr(md5(r.g::text || 'ref'), 1, 16), '0123456789abcdef', 'ABCDEFGHIJKLMNOP'),
       'user' || r.g, 'user' || r.g || '@example.com', 'com.example', r.ip::inet, r.ip, '',
       r.event_id, r.event_id, e.id, r.device_id, e.visitor_id, x.decision, x.reasons,
       jsonb_build_object('device_accounts', (ARRAY[0, 1, 0, 2])[r.v + 1],
                          'same_network', (ARRAY[NULL, true, NULL, false])[r.v + 1],
                          'ip_new_devices', (ARRAY[0, 0, 2, 0])[r.v + 1],
                          'ip_established_devices', 0, 'farm_signals', '[]'::jsonb),
       t.age_ms = 0,
       '{"event_found": "passed", "identification": "passed", "not_reused": "passed"}'::jsonb,
       NULL, 'signup', '',
       CASE WHEN x.decision <> 'review' THEN ''
            WHEN r.g % 10 < 5 THEN 'approved' WHEN r.g % 10 < 8 THEN 'rejected'
            ELSE 'pending' END,
       CASE WHEN t.platform = 'android' THEN r.device_id / 5 END
FROM bench_rows r
JOIN risk_fingerprintevent e ON e.event_id = r.event_id
JOIN bench_templates t ON t.k = r.k
JOIN bench_decisions x ON x.k = r.k AND x.v = r.v
ORDER BY r.g;

DROP TABLE bench_rows;
VACUUM ANALYZE;
"""


def seed(rows: int) -> None:
    from django.db import connection

    started = time.monotonic()
    template_rows, slots = templates()
    verdicts = decisions(template_rows)
    devices = 250_000 if rows >= 1_000_000 else max(rows // 4, 50)
    end_ms = int(time.time() * 1000) - 60_000
    with connection.cursor() as cursor:
        for table in ("bench_templates", "bench_slots", "bench_decisions"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            "CREATE TABLE bench_templates (k int PRIMARY KEY, platform text, score int, "
            "age_ms bigint, raw jsonb)"
        )
        cursor.executemany("INSERT INTO bench_templates VALUES (%s, %s, %s, %s, %s)", template_rows)
        cursor.execute("CREATE TABLE bench_slots (slot int PRIMARY KEY, k int)")
        cursor.executemany("INSERT INTO bench_slots VALUES (%s, %s)", list(enumerate(slots)))
        cursor.execute(
            "CREATE TABLE bench_decisions (k int, v int, decision text, reasons jsonb, "
            "PRIMARY KEY (k, v))"
        )
        cursor.executemany("INSERT INTO bench_decisions VALUES (%s, %s, %s, %s)", verdicts)
        sql = SEED_SQL
        for token, value in {"@ROWS@": rows, "@DEVICES@": devices, "@END_MS@": end_ms}.items():
            sql = sql.replace(token, str(int(value)))
        for statement in [s.strip() for s in sql.split(";\n") if s.strip()]:
            step = time.monotonic()
            cursor.execute(statement)
            words = " ".join(line for line in statement.split() if not line.startswith("--"))
            print(f"  {' '.join(words.split()[:3])}: {time.monotonic() - step:.1f}s", flush=True)
    print(f"seeded {rows:,} attempts in {time.monotonic() - started:.0f}s", flush=True)


# --- the measurements -------------------------------------------------------------------------


def window_end():
    """The seed's last signup (plus a second): the 30-day window ending there holds every
    seeded attempt however long ago the seed ran."""
    from datetime import timedelta

    from django.db.models import Max

    from risk.models import SignupAttempt

    return SignupAttempt.objects.aggregate(end=Max("created_at"))["end"] + timedelta(seconds=1)


def baseline(end) -> dict[str, float]:
    """The rules' own cost here and now: contexts of 2,000 stored attempts rebuilt, then
    evaluated many times (no database in the timed loops)."""
    from risk import rules
    from risk.conf import risk_settings
    from risk.fingerprint.events import normalise_event
    from risk.models import SignupAttempt
    from risk.services.rescore import attempt_context_rebuild

    attempts = list(
        SignupAttempt.objects.filter(created_at__lte=end)
        .select_related("fingerprint_event", "device", "drn_snapshot")
        .order_by("-pk")[:2000]
    )
    contexts = [attempt_context_rebuild(attempt=a, accounts_before=0) for a in attempts]
    contexts = [c for c in contexts if c is not None]
    cfg = risk_settings()
    started = time.perf_counter()
    for _ in range(5):
        for ctx in contexts:
            rules.evaluate_signup(ctx, cfg)
    evaluate = (time.perf_counter() - started) / (5 * len(contexts))
    raws = [a.fingerprint_event.raw for a in attempts if a.fingerprint_event.raw]
    started = time.perf_counter()
    for raw in raws:
        normalise_event(raw)
    normalise = (time.perf_counter() - started) / len(raws)
    texts = [json.dumps(raw) for raw in raws]
    started = time.perf_counter()
    for text in texts:
        json.loads(text)
    decode = (time.perf_counter() - started) / len(texts)
    return {
        "evaluate_signup": evaluate * 1e6,
        "normalise_event": normalise * 1e6,
        "json.loads": decode * 1e6,
        "snapshot bytes": sum(map(len, texts)) / len(texts),
    }


def _window(end):
    from risk.services import backtest

    report = backtest._report_new(window_days=30, values=VALUES, now=end, current=None)
    _, lo, hi = backtest._window_rows(report)
    return report, backtest._sides(report), lo, hi


def steps(end, rows: int) -> dict[str, float]:
    """Where a backtest's time goes, step by step, over `rows` attempts: the service's own
    functions, timed one by one."""
    from risk import rules
    from risk.services import backtest
    from risk.services.rescore import attempt_context_rebuild

    report, sides, lo, hi = _window(end)
    names = ("query + rows", "context rebuild", "rules now", "rules proposed", "count")
    spent = dict.fromkeys(names, 0.0)
    after, seen = lo - 1, 0
    while seen < rows:
        t = time.perf_counter()
        batch = backtest._batch(report, after=after, upto=hi, size=backtest.BATCH)
        spent["query + rows"] += time.perf_counter() - t
        if not batch:
            break
        for attempt in batch:
            t0 = time.perf_counter()
            ctx = attempt_context_rebuild(attempt=attempt, accounts_before=0)
            t1 = time.perf_counter()
            spent["context rebuild"] += t1 - t0
            if ctx is None:
                continue
            now = rules.evaluate_signup(ctx, sides.now)
            t2 = time.perf_counter()
            new = rules.evaluate_signup(ctx, sides.proposed)
            t3 = time.perf_counter()
            report.add(attempt, now, new)
            spent["rules now"] += t2 - t1
            spent["rules proposed"] += t3 - t2
            spent["count"] += time.perf_counter() - t3
        after, seen = batch[-1].pk, seen + len(batch)
    return {name: seconds / seen * 1e6 for name, seconds in spent.items()}


def profiled(end, rows: int) -> str:
    """cProfile of the service's scoring loop over `rows` attempts, top by own time."""
    from risk.services import backtest

    report, sides, lo, hi = _window(end)
    profiler = cProfile.Profile()
    seen = 0
    profiler.enable()
    for _, n in backtest._range_score(report, sides, after=lo - 1, upto=hi, size=backtest.BATCH):
        seen += n
        if seen >= rows:
            break
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(16)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return "\n".join(lines[:24])


def start_workers(db: str, workers: int) -> subprocess.Popen:
    env = {**os.environ, **environment(db)}
    return subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "fpdjango", "worker", "-Q", QUEUE,
            "--pool", "prefork", "--concurrency", str(workers), "--without-gossip",
            "--without-mingle", "--without-heartbeat", "-n", f"{QUEUE}@%h",
            "--loglevel", "WARNING",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip


def console_run(end, total: int) -> tuple[float, float, object]:
    """(seconds the click takes, seconds to the figures, the run) with workers scoring."""
    from risk.services.backtest import backtest_get, backtest_start

    started = time.perf_counter()
    run_id = backtest_start(actor=None, window_days=30, values=VALUES, now=end)
    clicked = time.perf_counter() - started
    while (run := backtest_get(run_id=run_id)).status == "running":
        print(f"\r  {run.done:>9,} / {total:,}  {run.percent:>3}%", end="", flush=True)
        time.sleep(1)
    print()
    return clicked, time.perf_counter() - started, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="fpdjango_bench_backtest")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--workers", default=str(os.cpu_count() or 2), help="worker processes; 1,2 runs both"
    )
    parser.add_argument("--skip-single", action="store_true", help="no one-process run")
    args = parser.parse_args()
    if args.db.startswith("test"):
        sys.exit("refusing a test database")

    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{args.db}'"):
        psql(f'CREATE DATABASE "{args.db}"')
    setup_django(args.db)
    from django.core.management import call_command

    from risk.models import SignupAttempt
    from risk.services.backtest import backtest_run

    call_command("migrate", verbosity=0)
    have = SignupAttempt.objects.count()
    if args.reseed or have < args.rows:
        print(f"seeding {args.rows:,} attempts into {args.db} ...", flush=True)
        seed(args.rows)
    else:
        print(f"reusing {have:,} attempts in {args.db} (--reseed to start over)")
    end = window_end()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average {load}; {os.cpu_count()} cores")

    base = baseline(end)
    print("\nbaseline (this machine, now; no database):")
    for name, value in base.items():
        print(f"  {name:<16} {value:8.1f} {'bytes' if 'bytes' in name else 'µs'}")

    print("\nwhere the time goes (µs per attempt, 50,000 attempts):")
    for name, value in steps(end, 50_000).items():
        print(f"  {name:<16} {value:8.1f}")

    print("\ncProfile of 20,000 attempts (top by own time):")
    print(profiled(end, 20_000))

    if not args.skip_single:
        print("\none process: backtest_run(window_days=30) ...", flush=True)
        started = time.perf_counter()
        report = backtest_run(window_days=30, values=VALUES, now=end)
        wall = time.perf_counter() - started
        total = report.tally["scored"] + report.tally["skipped"]
        print(
            f"  {total:,} attempts in {wall:.1f} s: {wall / total * 1e6:.0f} µs per attempt; "
            f"moved {report.tally['moved']:,}, skipped {report.tally['skipped']:,}, "
            f"drift {report.tally['drift']:,}"
        )
        for side in ("now", "proposed"):
            outcomes = {str(k): v for k, v in sorted(report.outcomes[side].items())}
            labelled = {
                "people denied": report.people_denied(side),
                "people held": report.people_held(side),
                "fraud allowed": report.fraud_allowed(side),
                "fraud held": report.fraud_held(side),
            }
            print(f"  {side:<8} {outcomes}  {labelled}")
        print(f"  moves {dict(report.moves)}; labels {dict(report.labels)}")

    for workers in (int(n) for n in args.workers.split(",")):
        print(f"\nthe console's run: {workers} Celery worker processes ...", flush=True)
        worker = start_workers(args.db, workers)
        try:
            time.sleep(8)  # the worker boots and connects
            clicked, wall, run = console_run(end, SignupAttempt.objects.count())
            print(
                f"  the click (count, chunks, enqueue): {clicked * 1000:.0f} ms; figures after "
                f"{wall:.1f} s: {wall / run.total * 1e6:.0f} µs per attempt of wall time; "
                f"{run.total:,} attempts, status {run.status}; load "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
