"""Time the review console at 1,000,000 signup attempts and events on PostgreSQL.

    .venv/bin/python bench/admin_scale.py [--rows 1000000] [--runs 15] [--db fpdjango_bench]
                                          [--reseed]

1. creates the database (default `fpdjango_bench`) when missing and migrates it;
2. seeds it once, in SQL (`INSERT ... SELECT generate_series`, no Python loop): devices (a
   quarter of the rows, 50 "farm" devices holding ~200 attempts each), FingerprintEvent rows
   with a realistic raw jsonb snapshot (~1.5 KB), SignupAttempts spread over 90 days (10% held
   for review, half of those still pending), 8 countries and 8 networks (plus rare ones),
   7 email domains (plus a rare one), DRN snapshots for Android devices, a reviewer decision
   for every decided attempt, then exact device counters and ANALYZE. Reruns keep the data
   (`--reseed` starts over);
3. logs a Reviewer in with Django's test Client and, per page, discards 2 warm-up requests and
   prints the median and the slowest of `--runs` timed requests, plus the SQL query count.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres). Record `uptime` next to the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack import psql  # noqa: E402

FARMS = 50


def setup_django(db: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "fpdjango.test_settings"
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    import django

    django.setup()
    from django.conf import settings

    # The test Client's host. (No setup_test_environment(): its template instrumentation
    # copies every context and would inflate the render times we measure.)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # Admin pages use {% static %}; the manifest storage of DEBUG=0 needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


SEED_SQL = """
TRUNCATE risk_reviewdecision, risk_reassessment, risk_signupattempt, risk_drnsnapshot,
         risk_fingerprintevent, risk_device RESTART IDENTITY CASCADE;

INSERT INTO risk_device (visitor_id, platform, status, first_seen_at, last_seen_at,
                         account_count, attempt_count, drn_lookup_pending)
SELECT substr(md5('v' || g), 1, 20),
       (ARRAY['js', 'js', 'js', 'android', 'ios'])[1 + g % 5],
       CASE WHEN g % 997 = 0 THEN 'blocked' WHEN g % 991 = 0 THEN 'trusted' ELSE 'normal' END,
       now() - interval '90 days', now(), 0, 0, false
FROM generate_series(1, @DEVICES@) AS g;

-- one event per attempt; 1% of them from the 50 farm devices (ids 1..50)
INSERT INTO risk_fingerprintevent (event_id, api_version, device_id, visitor_id, timestamp, ip,
    url, platform, confidence, bot, bot_type, suspect_score, vpn, proxy, tampering, incognito,
    tor, replayed, country_code, asn_name, raw, fetched_at)
SELECT s.event_id, 'v4', s.device_id, d.visitor_id, s.ts, s.ip::inet,
       'https://app.example.com/accounts/signup/', d.platform, 0.99, s.bot,
       CASE WHEN s.bot = 'bad' THEN 'headless_chrome' ELSE '' END,
       s.score, s.vpn, false, s.tampering, false, false, false, s.country, s.asn,
       jsonb_build_object(
         'event_id', s.event_id, 'timestamp', (extract(epoch FROM s.ts) * 1000)::bigint,
         'url', 'https://app.example.com/accounts/signup/', 'ip_address', s.ip,
         'identification', jsonb_build_object('visitor_id', d.visitor_id,
            'confidence', jsonb_build_object('score', 0.99, 'version', '1.1'),
            'visitor_found', true, 'first_seen_at', 1700000000000),
         'sdk', jsonb_build_object('platform', d.platform, 'version', '3.11.10'),
         'bot', s.bot, 'suspect_score', s.score, 'vpn', s.vpn, 'vpn_confidence', 'high',
         'tampering', s.tampering, 'incognito', false, 'proxy', false, 'replayed', false,
         'developer_tools', false, 'virtual_machine', false, 'privacy_settings', false,
         'user_agent', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 '
                       '(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
         'browser_details', jsonb_build_object('browser_name', 'Chrome',
            'browser_major_version', '131', 'browser_full_version', '131.0.0',
            'os', 'Mac OS X', 'os_version', '10.15.7', 'device', 'Other'),
         'ip_blocklist', jsonb_build_object('email_spam', false, 'attack_source', false,
            'tor_node', false),
         'ip_info', jsonb_build_object('v4', jsonb_build_object('address', s.ip,
            'asn', '7922', 'asn_name', s.asn, 'asn_network', '73.0.0.0/8',
            'datacenter_result', false, 'geolocation', jsonb_build_object(
              'city_name', 'New York', 'country_code', s.country, 'country_name', s.country,
              'continent_code', 'NA', 'latitude', 40.7, 'longitude', -74.0,
              'timezone', 'America/New_York', 'postal_code', '10001'))),
         'velocity', jsonb_build_object('events', jsonb_build_object('5_minutes', 1,
            '1_hour', 1, '24_hours', 1))),
       s.ts
FROM (
  SELECT g,
         (1700000000000 + g)::text || '.' || substr(md5(g::text), 1, 6) AS event_id,
         CASE WHEN g % 100 = 0 THEN 1 + (g / 100) % @FARMS@
              ELSE 1 + (hashint4(g) & 2147483647) % @DEVICES@ END AS device_id,
         now() - (@ROWS@ - g) * (interval '90 days' / @ROWS@) AS ts,
         CASE WHEN g % 1000 = 0 THEN '192.0.2.1'
              ELSE '10.' || (g % 200000) / 65536 || '.' || (g % 65536) / 256 || '.' ||
                   g % 256 END AS ip,
         CASE WHEN g % 50 = 0 THEN 'bad' WHEN g % 333 = 0 THEN 'good'
              ELSE 'not_detected' END AS bot,
         (g * 7) % 23 AS score,
         g % 10 = 4 AS vpn,
         g % 17 = 0 AS tampering,
         -- 8 countries and 8 networks; one network in 1,000 rows is a rare one
         (ARRAY['US', 'DE', 'FR', 'GB', 'BR', 'IN', 'NL', 'PL'])[1 + g % 8] AS country,
         CASE WHEN g % 1000 = 7 THEN 'RARE-NET-' || (g / 1000) % 50
              ELSE (ARRAY['COMCAST-7922', 'DTAG', 'ORANGE', 'BT', 'DIGITALOCEAN-ASN',
                          'HETZNER-AS', 'OVH', 'AMAZON-02'])[1 + (g / 7) % 8] END AS asn
  FROM generate_series(1, @ROWS@) AS g
) AS s JOIN risk_device d ON d.id = s.device_id;

INSERT INTO risk_drnsnapshot (device_id, visitor_id, fetched_at, status, error, raw, countries,
    location_masked, min_suspect_score, max_suspect_score, max_percentile)
SELECT id, visitor_id, now(), 'ok', '', '{}'::jsonb,
       '[{"code": "US", "ip": 1.0, "origin": 1.0}]'::jsonb, false, 0, id % 30,
       (id % 100) / 100.0
FROM risk_device WHERE platform = 'android';

INSERT INTO risk_signupattempt (created_at, username, email, email_domain_rev, client_ip,
    origin, event_id, claimed_event_id, fingerprint_event_id, device_id, visitor_id, decision,
    reasons, checks, account_id, endpoint, fingerprint_error, review_status, drn_snapshot_id,
    facts, reference)
SELECT e.timestamp, 'user' || e.id, 'user' || e.id || '@' || m.domain, m.rev, e.ip,
       'https://app.example.com', e.event_id, e.event_id, e.id, e.device_id, e.visitor_id,
       a.decision, a.reasons,
       '{"event_found": "passed", "identification": "passed", "not_reused": "passed",
         "not_replayed": "passed", "fresh": "passed", "origin": "skipped", "ip": "passed",
         "confidence": "passed"}'::jsonb,
       NULL, 'signup', '',
       CASE WHEN a.decision <> 'review' THEN ''
            WHEN e.id % 20 < 10 THEN 'pending'
            WHEN e.id % 2 = 0 THEN 'approved' ELSE 'rejected' END,
       (SELECT s.id FROM risk_drnsnapshot s WHERE s.device_id = e.device_id LIMIT 1),
       '{}'::jsonb,
       -- an opaque reference of the app's shape (16 base32 letters), unique per row
       translate(substr(md5(e.id::text || random()::text), 1, 16), '0123456789abcdef',
                 'ABCDEFGHIJKLMNOP')
FROM risk_fingerprintevent e
CROSS JOIN LATERAL (
  SELECT CASE WHEN e.bot = 'bad' THEN 'deny' WHEN e.device_id <= @FARMS@ THEN 'deny'
              WHEN e.vpn OR e.tampering OR e.bot = 'good' OR e.suspect_score >= 20 THEN 'review'
              WHEN e.id % 10 = 3 THEN 'deny' ELSE 'allow' END AS decision,
         CASE WHEN e.bot = 'bad' THEN '["bot_bad"]'::jsonb
              WHEN e.device_id <= @FARMS@ THEN '["device_limit"]'::jsonb
              WHEN e.vpn THEN '["vpn"]'::jsonb
              WHEN e.tampering THEN '["tampering"]'::jsonb
              WHEN e.bot = 'good' THEN '["bot_good"]'::jsonb
              WHEN e.suspect_score >= 20 THEN '["suspect_score"]'::jsonb
              WHEN e.id % 10 = 3 THEN '["device_limit"]'::jsonb
              ELSE '[]'::jsonb END AS reasons
) AS a
CROSS JOIN LATERAL (
  -- email domains: big ones, subdomains of example.com, and a rare one (1 row in 2,000)
  SELECT (ARRAY['gmail.com', 'example.com', 'mail.example.com', 'yahoo.com', 'outlook.com',
                'corp.example.org', 'proton.me', 'rare-domain.test'])[k] AS domain,
         (ARRAY['com.gmail', 'com.example', 'com.example.mail', 'com.yahoo', 'com.outlook',
                'org.example.corp', 'me.proton', 'test.rare-domain'])[k] AS rev
  FROM (SELECT CASE WHEN e.id % 2000 = 11 THEN 8 ELSE 1 + e.id % 7 END AS k) AS pick
) AS m
ORDER BY e.id;

-- reviewers' decisions on the decided attempts, 10 minutes to 2 days after the signup
INSERT INTO risk_reviewdecision (created_at, actor_id, attempt_id, device_id, action, reason,
    note, parent_id, previous)
SELECT created_at + (id % 2880) * interval '1 minute' + interval '10 minutes', NULL, id, NULL,
       CASE WHEN review_status = 'approved' THEN 'approve' ELSE 'reject' END,
       CASE WHEN review_status = 'approved' THEN 'legitimate_user' ELSE 'fake_identity' END,
       '', NULL, '{"review_status": "pending"}'::jsonb
FROM risk_signupattempt WHERE review_status IN ('approved', 'rejected') ORDER BY id;

UPDATE risk_device d SET attempt_count = c.n,
       account_count = LEAST(c.n, 1 + (d.id % 3))
FROM (SELECT device_id, count(*) AS n FROM risk_signupattempt GROUP BY device_id) AS c
WHERE c.device_id = d.id;

VACUUM ANALYZE;
"""


def seed(rows: int) -> None:
    from django.db import connection

    values = {"@ROWS@": rows, "@DEVICES@": max(rows // 4, FARMS + 1), "@FARMS@": FARMS}
    sql = SEED_SQL
    for token, value in values.items():
        sql = sql.replace(token, str(int(value)))
    started = time.monotonic()
    with connection.cursor() as cursor:
        for statement in [s.strip() for s in sql.split(";\n") if s.strip()]:
            step = time.monotonic()
            cursor.execute(statement)  # no parameters: psycopg leaves % alone
            words = " ".join(statement.split()[:3])
            print(f"  {words}: {time.monotonic() - step:.1f}s", flush=True)
    print(f"seeded {rows:,} attempts in {time.monotonic() - started:.0f}s", flush=True)


def timed(client, url: str, runs: int, before=None) -> tuple[float, float, int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):  # warm: connection, template and plan caches
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(runs):
        if before:
            before()
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    if before:
        before()
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    sql_ms = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
    return statistics.median(times), max(times), len(ctx.captured_queries), sql_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--db", default="fpdjango_bench")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{args.db}'"):
        psql(f'CREATE DATABASE "{args.db}"')
    setup_django(args.db)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from risk.models import Device, SignupAttempt

    call_command("migrate", verbosity=0)
    have = SignupAttempt.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if args.reseed or have < args.rows:
        print(f"seeding {args.rows:,} attempts into {args.db} ...", flush=True)
        seed(args.rows)
    else:
        print(f"reusing {have:,} attempts in {args.db} (--reseed to start over)")

    reviewer, created = get_user_model().objects.get_or_create(
        username="bench-reviewer", is_staff=True
    )
    if created:
        reviewer.groups.add(Group.objects.get(name="Reviewer"))
    client = Client()
    client.force_login(reviewer)

    pending = SignupAttempt.objects.filter(review_status="pending", pk__gte=args.rows // 2).first()
    farm = SignupAttempt.objects.filter(device_id=1).order_by("-created_at").first()
    hot_ip = SignupAttempt.objects.filter(client_ip="192.0.2.1").order_by("-created_at").first()
    sample = SignupAttempt.objects.get(pk=args.rows // 2)
    queue = "/admin/risk/signupattempt/"
    pages = [
        ("queue, first page (pending)", queue),
        ("queue, all attempts", f"{queue}?status=all"),
        ("queue, filter decision=deny", f"{queue}?status=all&decision__exact=deny"),
        ("queue, filter reason=vpn", f"{queue}?status=all&reason=vpn"),
        ("queue, filter bot=bad", f"{queue}?status=all&bot=bad"),
        ("queue, filter score 20+ & pending", f"{queue}?score=20%2B"),
        ("queue, filter last 7 days", f"{queue}?status=all&when=7d"),
        ("queue, search IP", f"{queue}?status=all&q=192.0.2.1"),
        ("queue, search reference", f"{queue}?status=all&q={sample.reference}"),
        ("queue, search event id", f"{queue}?status=all&q={sample.event_id}"),
        ("queue, search visitor id", f"{queue}?status=all&q={sample.visitor_id}"),
        ("queue, search email", f"{queue}?status=all&q={sample.email}"),
        ("queue, search username", f"{queue}?status=all&q={sample.username}"),
        ("queue, filter country=DE (pending)", f"{queue}?country=DE"),
        ("queue, filter country=DE (all)", f"{queue}?status=all&country=DE"),
        ("queue, filter network (pending)", f"{queue}?asn=HETZNER-AS"),
        ("queue, filter rare network (all)", f"{queue}?status=all&asn=RARE-NET-7"),
        ("queue, filter email domain example.com (pending)", f"{queue}?domain=example.com"),
        ("queue, filter email domain example.com (all)", f"{queue}?status=all&domain=example.com"),
        ("queue, search @rare-domain.test (all)", f"{queue}?status=all&q=%40rare-domain.test"),
        ("queue, newest first (pending)", f"{queue}?o=-1"),
        ("evidence page (pending attempt)", f"{queue}{pending.pk}/change/"),
        ("evidence page (farm, ~200 attempts)", f"{queue}{farm.pk}/change/"),
        ("evidence page (hot IP)", f"{queue}{hot_ip.pk}/change/"),
        (
            "evidence page in a filtered selection (prev/next)",
            f"{queue}{pending.pk}/change/?_changelist_filters=country%3DDE%26asn%3DDTAG",
        ),
        ("audit log", "/admin/risk/reviewdecision/"),
        (
            "audit log, filter action + last 7 days",
            "/admin/risk/reviewdecision/?action__exact=approve&when=7d",
        ),
        ("audit log, search reason", "/admin/risk/reviewdecision/?q=legitimate_user"),
        ("device cluster page (farm)", f"/admin/risk/device/{farm.device_id}/change/"),
        ("cluster ranking", "/admin/risk/device/"),
        ("dashboard (admin index, cached figures)", "/admin/"),
        ("dashboard (admin index, figures recomputed)", "/admin/"),
    ]
    print(
        f"\nload: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
        f"  rows: {SignupAttempt.objects.order_by('-pk').first().pk:,} attempts, "
        f"{Device.objects.order_by('-pk').first().pk:,} devices"
    )
    print("| page | median ms | max ms | queries | SQL ms (one request) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, url in pages:
        before = cache.clear if "recomputed" in name else None
        median, slowest, queries, sql_ms = timed(client, url, args.runs, before)
        print(f"| {name} | {median:.0f} | {slowest:.0f} | {queries} | {sql_ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
