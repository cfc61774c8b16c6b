"""risk/selectors.py: the read paths, on rows made here (queues, evidence, clusters, statistics,
the rows jobs walk)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from risk import rules, selectors
from risk.models import (
    Device,
    DeviceStatus,
    DrnSnapshot,
    FingerprintEvent,
    ReviewDecision,
    SignupAttempt,
    UnknownEvent,
)
from risk.selectors import devices_drn_due
from tests.support.review import empty_cache  # noqa: F401

pytestmark = pytest.mark.django_db


def test_due_devices_in_id_order_from_a_checkpoint():
    devices = [
        Device.objects.create(visitor_id=f"pending{i:013d}", platform="android") for i in range(5)
    ]
    Device.objects.create(visitor_id="iosdevice00000000001", platform="ios")  # DRN: Android only
    # devices[1] has a fresh answer; devices[2] a stale one; devices[3] a fresh one but queued.
    fresh = [DrnSnapshot(device=d, visitor_id=d.visitor_id, status="ok") for d in devices[1:4]]
    DrnSnapshot.objects.bulk_create(fresh)
    DrnSnapshot.objects.filter(device=devices[2]).update(
        fetched_at=timezone.now() - timedelta(days=31)
    )
    Device.objects.filter(pk=devices[3].pk).update(drn_lookup_pending=True)
    due = [devices[0], devices[2], devices[3], devices[4]]
    assert list(devices_drn_due(max_age=timedelta(days=30))) == due
    assert list(devices_drn_due(max_age=timedelta(days=30), after=devices[0].pk)) == due[1:]


def test_device_stored_before_its_platform_is_android_by_its_events():
    from risk.models import FingerprintEvent
    from risk.selectors import device_is_android

    legacy = Device.objects.create(visitor_id="legacy00000000000001")
    assert not device_is_android(device=legacy)
    assert list(devices_drn_due(max_age=timedelta(days=30))) == []
    FingerprintEvent.objects.create(event_id="e1", device=legacy, platform="android", raw={})
    assert device_is_android(device=legacy)
    assert list(devices_drn_due(max_age=timedelta(days=30))) == [legacy]


def test_signal_tones_follow_the_rules_thresholds(settings):
    """The evidence page calls a score "bad" and a confidence "ok" by the same thresholds the
    rules use (RISK_SUSPECT_SCORE_REVIEW, RISK_MIN_CONFIDENCE), not by constants of its own."""
    from risk.models import FingerprintEvent, SignupAttempt
    from risk.selectors import attempt_signals

    raw = {"event_id": "1700000000000.abcdef", "suspect_score": 7, "tampering": True}
    raw["identification"] = {"visitor_id": "visitor00000000001", "confidence": {"score": 0.7}}
    snapshot = FingerprintEvent.objects.create(event_id=raw["event_id"], raw=raw)
    attempt = SignupAttempt(fingerprint_event=snapshot, decision="allow")

    def tones() -> dict[str, str]:
        lines = attempt_signals(attempt=attempt)["lines"]
        return {
            text.split()[0]: tone
            for tone, text in lines
            if text.split()[0] in ("suspect", "confidence")
        }

    settings.RISK_SUSPECT_SCORE_REVIEW, settings.RISK_MIN_CONFIDENCE = 5, 0.5
    assert tones() == {"suspect": "bad", "confidence": "ok"}
    settings.RISK_SUSPECT_SCORE_REVIEW, settings.RISK_MIN_CONFIDENCE = 10, 0.9
    assert tones() == {"suspect": "warn", "confidence": "warn"}


# --- rows made here ------------------------------------------------------------------------

User = get_user_model()
_serial = iter(range(1, 1_000_000))


def attempt(*, ago: timedelta = timedelta(0), **fields) -> SignupAttempt:
    """An attempt as old as `ago` (created_at is set on insert; moved back afterwards)."""
    n = next(_serial)
    fields.setdefault("username", f"user{n}")
    fields.setdefault("event_id", f"1700000{n:06d}.abcdef")
    fields.setdefault("decision", "allow")
    row = SignupAttempt.objects.create(**fields)
    if ago:
        SignupAttempt.objects.filter(pk=row.pk).update(created_at=timezone.now() - ago)
        row.refresh_from_db()
    return row


def device(visitor_id: str = "", **fields) -> Device:
    return Device.objects.create(visitor_id=visitor_id or f"dev{next(_serial):017d}", **fields)


def decision(*, ago: timedelta = timedelta(0), **fields) -> ReviewDecision:
    row = ReviewDecision.objects.create(**fields)
    if ago:
        ReviewDecision.objects.filter(pk=row.pk).update(created_at=timezone.now() - ago)
        row.refresh_from_db()
    return row


def pks(queryset_or_list) -> list[int]:
    return [row.pk for row in queryset_or_list]


# --- queue ---------------------------------------------------------------------------------


def test_claimable_means_unclaimed_mine_or_lapsed():
    me, other = User.objects.create_user("me"), User.objects.create_user("other")
    now = timezone.now()
    free = attempt()
    mine = attempt(claimed_by=me, claimed_until=now + timedelta(minutes=5))
    held = attempt(claimed_by=other, claimed_until=now + timedelta(minutes=5))
    lapsed = attempt(claimed_by=other, claimed_until=now - timedelta(seconds=1))
    found = SignupAttempt.objects.filter(selectors.claimable_by_q(user=me, now=now))
    assert set(pks(found)) == {free.pk, mine.pk, lapsed.pk}
    assert held.pk not in pks(found)


def test_a_reason_matches_whole_codes_only():
    bot = attempt(reasons=["bot_bad"])
    both = attempt(reasons=["tor", "device_shared"])
    attempt(reasons=["suspect_score"])

    def having(code):
        return set(pks(SignupAttempt.objects.filter(selectors.attempt_reason_q(code=code))))

    assert having("bot_bad") == {bot.pk}
    assert having("bot") == set()  # a prefix of a code is not the code
    assert having("device_shared") == {both.pk}


def test_search_goes_by_the_shape_of_the_term():
    dev = device("VisitorShape00000001")
    target = attempt(
        username="carol",
        email="carol@mail.shop.example",
        client_ip="198.51.100.23",
        event_id="1700000000000.Shape1",
        visitor_id=dev.visitor_id,
    )
    attempt(username="dave", email="dave@notshop.example", client_ip="198.51.100.24")

    def found(term):
        q = selectors.attempt_search_q(term=term)
        return set(pks(SignupAttempt.objects.filter(q))) if q is not None else None

    assert found("198.51.100.23") == {target.pk}
    assert found("carol@mail.shop.example") == {target.pk}
    assert found("@shop.example") == {target.pk}  # the domain and its subdomains only
    assert found("1700000000000.Shape1") == {target.pk}
    assert found("VisitorShape00000001") == {target.pk}
    assert found(target.reference.lower()) == {target.pk}  # quoted in any case
    assert found("  carol ") == {target.pk}
    assert found("caro") == set()  # exact, not "contains"
    assert found("   ") is None


def test_email_domains_match_by_label_never_by_suffix_text():
    shop = attempt(email="a@shop.example")
    sub = attempt(email="b@eu.shop.example")
    attempt(email="c@notshop.example")

    def at(domain):
        q = selectors.attempt_email_domain_q(domain=domain)
        return set(pks(SignupAttempt.objects.filter(q)))

    assert at("shop.example") == at("@shop.example") == at("*.shop.example") == {shop.pk, sub.pk}
    assert at("eu.shop.example") == {sub.pk}
    assert at("") == set()


def test_neighbours_follow_the_queue_order_and_skip_what_others_hold():
    other = User.objects.create_user("other")
    first = attempt(ago=timedelta(hours=3))
    second = attempt(ago=timedelta(hours=2))
    third = attempt(ago=timedelta(hours=2))  # at the same moment as `second`: pk breaks the tie
    SignupAttempt.objects.filter(pk=third.pk).update(created_at=second.created_at)
    third.refresh_from_db()
    fourth = attempt(ago=timedelta(hours=1))
    queue = SignupAttempt.objects.all()

    def step(row, n, newest_first=False, user=None):
        found = selectors.attempt_neighbour(
            queryset=queue,
            attempt=row,
            newest_first=newest_first,
            step=n,
            skip_claimed_by_others_of=user,
        )
        return found.pk if found else None

    assert step(first, 1) == second.pk and step(second, 1) == third.pk
    assert step(third, -1) == second.pk and step(first, -1) is None
    assert step(fourth, 1, newest_first=True) == third.pk  # newest first: "next" is older
    SignupAttempt.objects.filter(pk=second.pk).update(
        claimed_by=other, claimed_until=timezone.now() + timedelta(minutes=5)
    )
    me = User.objects.create_user("me")
    assert step(first, 1, user=me) == third.pk
    gone = SignupAttempt(pk=second.pk, created_at=second.created_at)  # decided: left the queue
    assert step(gone, 1) == third.pk


# --- evidence ------------------------------------------------------------------------------


def snapshot(raw: dict, **fields) -> FingerprintEvent:
    return FingerprintEvent.objects.create(event_id=raw.get("event_id", "x"), raw=raw, **fields)


def test_signals_in_words_from_the_raw_snapshot(settings):
    settings.RISK_SUSPECT_SCORE_REVIEW, settings.RISK_MIN_CONFIDENCE = 10, 0.9
    raw = {
        "event_id": "1700000000000.words1",
        "identification": {"visitor_id": "WordsVisitor00000001", "confidence": {"score": 0.95}},
        "bot": "bad",
        "bot_type": "headless_chrome",
        "suspect_score": 22,
        "vpn": True,
        "vpn_origin_country": "DE",
        "tampering": True,
        "replayed": True,
    }
    row = attempt(fingerprint_event=snapshot(raw))
    signals = selectors.attempt_signals(attempt=row)
    assert signals["error"] == "" and signals["score"] == 22
    lines = dict((text, tone) for tone, text in signals["lines"])
    assert lines["bad bot: headless chrome"] == "bad"
    assert lines["VPN (real location DE)"] == "warn"
    assert lines["browser tampering"] == "bad"
    assert lines["identification replayed"] == "bad"
    assert lines["confidence 0.95"] == "ok"
    assert any(text.startswith("suspect score 22: bot 10") for text in lines)
    assert signals["breakdown"][0] == ("bot", 10)  # heaviest first


def test_signals_say_why_there_are_none():
    assert selectors.attempt_signals(attempt=attempt())["event"] is None
    stripped = attempt(fingerprint_event=snapshot({}, visitor_id="x"))
    FingerprintEvent.objects.filter(pk=stripped.fingerprint_event_id).update(raw={})
    stripped.refresh_from_db()
    assert "removed" in selectors.attempt_signals(attempt=stripped)["error"]
    broken = attempt(fingerprint_event=snapshot({"event_id": "1700000000000.broken"}))
    FingerprintEvent.objects.filter(pk=broken.fingerprint_event_id).update(raw=["not", "an event"])
    broken.refresh_from_db()
    result = selectors.attempt_signals(attempt=broken)
    assert result["event"] is None and result["error"]


def test_checks_in_the_rules_order_unrecorded_ones_skipped_and_extra_ones_kept():
    row = attempt(checks={"ip": "failed", "event_found": "passed", "legacy_check": "passed"})
    rows = selectors.attempt_checks(attempt=row)
    assert [r.name for r in rows] == [*rules.CHECKS, "legacy_check"]
    results = {r.name: r.result for r in rows}
    assert results["ip"] == "failed" and results["event_found"] == "passed"
    assert results["confidence"] == rules.SKIPPED


def test_reasons_with_their_outcome_and_description():
    row = attempt(reasons=["tor", "vpn", "made_up_code"])
    tor, vpn, made_up = selectors.attempt_reasons(attempt=row)
    assert (tor.code, tor.outcome, tor.description) == ("tor", "review", rules.describe("tor"))
    assert vpn.outcome == "" and vpn.description  # retired: still described
    assert (made_up.outcome, made_up.description) == ("", "")


# --- clusters ------------------------------------------------------------------------------


def test_a_device_cluster_lists_accounts_and_attempts_newest_first_and_bounded():
    dev = device()
    rows = []
    for i, hours in enumerate((5, 3, 1)):
        account = User.objects.create_user(f"member{i}", email=f"m{i}@example.test")
        rows.append(attempt(device=dev, account=account, ago=timedelta(hours=hours)))
    refused = attempt(device=dev, decision="deny", ago=timedelta(minutes=5))
    attempt(device=device())  # another device's
    cluster = selectors.device_cluster(device=dev)
    assert [a.username for a in cluster["accounts"]] == ["member2", "member1", "member0"]
    assert cluster["accounts"][0].email == "m2@example.test"
    assert pks(cluster["attempts"]) == [refused.pk, rows[2].pk, rows[1].pk, rows[0].pk]
    assert cluster["truncated"] is False
    small = selectors.device_cluster(device=dev, limit=2)
    assert len(small["accounts"]) == 2 and len(small["attempts"]) == 2 and small["truncated"]
    assert selectors.device_cluster(device=None) == {
        "accounts": [],
        "attempts": [],
        "truncated": False,
    }


def test_other_attempts_from_the_same_ip_within_a_day():
    row = attempt(client_ip="192.0.2.50", ago=timedelta(hours=30))
    near = attempt(client_ip="192.0.2.50", ago=timedelta(hours=20))
    attempt(client_ip="192.0.2.50", ago=timedelta(hours=60))  # too long before
    attempt(client_ip="192.0.2.51", ago=timedelta(hours=30))  # another address
    assert pks(selectors.attempts_same_ip(attempt=row)) == [near.pk]
    assert selectors.attempts_same_ip(attempt=attempt(client_ip=None)) == []


def test_decisions_on_an_attempt_and_on_its_device_newest_first():
    reviewer = User.objects.create_user("reviewer")
    dev = device()
    row = attempt(device=dev)
    sibling = attempt(device=dev)
    on_attempt = decision(
        actor=reviewer, attempt=row, action="approve", reason="x", ago=timedelta(hours=2)
    )
    on_device = decision(
        actor=reviewer, device=dev, action="block_device", reason="x", ago=timedelta(hours=1)
    )
    on_sibling = decision(actor=reviewer, attempt=sibling, action="reject", reason="x")
    decision(actor=reviewer, attempt=attempt(), action="reject", reason="x")  # elsewhere
    assert pks(selectors.attempt_decisions(attempt=row)) == [on_device.pk, on_attempt.pk]
    assert pks(selectors.device_decisions(device=dev)) == [
        on_sibling.pk,
        on_device.pk,
        on_attempt.pk,
    ]
    assert pks(selectors.device_decisions(device=dev, limit=1)) == [on_sibling.pk]


def test_the_largest_clusters_by_accounts_or_by_attempts():
    farm = device(account_count=1, attempt_count=40)
    family = device(account_count=4, attempt_count=4)
    office = device(account_count=6, attempt_count=6)
    device(account_count=1, attempt_count=1)  # a cluster of one is no cluster
    assert pks(selectors.device_largest_clusters()) == [office.pk, family.pk]
    by_attempts = selectors.device_largest_clusters(by="attempts", limit=2)
    assert pks(by_attempts) == [farm.pk, office.pk]


# --- dashboard -----------------------------------------------------------------------------


def test_signups_per_day_oldest_first_with_bars_relative_to_the_busiest_day():
    for decided, ago in (("allow", 0), ("allow", 0), ("deny", 0), ("review", 1), ("allow", 20)):
        attempt(decision=decided, ago=timedelta(days=ago, minutes=1))
    days = selectors.stats_signups_per_day(days=3)
    assert [d["day"] for d in days] == [timezone.localdate() - timedelta(days=n) for n in (2, 1, 0)]
    today, yesterday = days[-1], days[-2]
    assert (today["allow"], today["deny"], today["review"], today["total"]) == (2, 1, 0, 3)
    assert yesterday["total"] == 1 and days[0]["total"] == 0  # 20 days ago: outside
    assert today["pct"]["allow"] == round(100 * 2 / 3, 1) and yesterday["pct"]["review"] == 33.3


def test_top_reasons_of_the_week_most_frequent_first():
    for reasons, ago in (
        (["tor"], 0),
        (["tor", "device_shared"], 1),
        (["tor"], 2),
        (["device_shared"], 3),
        (["bot_bad"], 4),
        (["bot_bad"], 10),  # older than the week
    ):
        attempt(reasons=reasons, ago=timedelta(days=ago))
    top = selectors.stats_top_reasons()
    assert [(r["code"], r["count"]) for r in top] == [
        ("tor", 3),
        ("device_shared", 2),
        ("bot_bad", 1),
    ]
    assert top[0]["pct"] == 100.0 and top[0]["outcome"] == "review"
    assert top[0]["description"] == rules.describe("tor")
    assert len(selectors.stats_top_reasons(limit=1)) == 1


def test_the_backlog_is_the_pending_reviews_and_the_oldest_wait():
    assert selectors.stats_backlog() == {"size": 0, "oldest_at": None, "oldest_age": None}
    attempt(review_status="pending", ago=timedelta(hours=5))
    attempt(review_status="pending", ago=timedelta(hours=1))
    attempt(review_status="approved", ago=timedelta(hours=9))
    backlog = selectors.stats_backlog()
    assert backlog["size"] == selectors.stats_open_reviews() == 2
    assert timedelta(hours=5) <= backlog["oldest_age"] < timedelta(hours=5, minutes=1)


def test_time_to_decision_counts_reviewers_decisions_on_held_attempts_only():
    reviewer = User.objects.create_user("reviewer")
    for hours in (1, 2, 6):
        row = attempt(review_status="approved", ago=timedelta(hours=hours))
        decision(
            actor=reviewer,
            attempt=row,
            action="approve",
            reason="x",
            previous={"review_status": "pending"},
        )
    not_held = attempt(ago=timedelta(hours=50))
    decision(actor=reviewer, attempt=not_held, action="reject", reason="x", previous={})
    timing = selectors.stats_time_to_decision()
    assert timing["count"] == 3
    assert timedelta(hours=2) <= timing["median"] < timedelta(hours=2, minutes=1)
    assert timedelta(hours=6) <= timing["p90"] < timedelta(hours=6, minutes=1)
    assert selectors.stats_time_to_decision(days=0)["count"] == 0


def test_reason_outcomes_give_each_rules_approve_rate():
    for reasons, status in (
        (["tor"], "approved"),
        (["tor"], "rejected"),
        (["tor", "device_shared"], "rejected"),
        (["device_shared"], "approved"),
        (["tor"], "pending"),  # not decided yet
    ):
        attempt(reasons=reasons, review_status=status)
    outcomes = {r["code"]: r for r in selectors.stats_reason_outcomes()}
    assert (outcomes["tor"]["approved"], outcomes["tor"]["rejected"]) == (1, 2)
    assert outcomes["tor"]["decided"] == 3 and abs(outcomes["tor"]["approve_rate"] - 1 / 3) < 1e-9
    assert outcomes["device_shared"]["approve_rate"] == 0.5
    assert [r["code"] for r in selectors.stats_reason_outcomes()] == ["tor", "device_shared"]


def test_the_dashboard_is_computed_at_most_every_so_often():
    attempt(review_status="pending", reasons=["tor"])
    first = selectors.stats_dashboard()
    assert first["open_reviews"] == 1 and first["totals"]["total"] == 1
    attempt(review_status="pending", reasons=["tor"])
    assert selectors.stats_dashboard()["open_reviews"] == 1  # from the cache
    cache.delete(selectors.DASHBOARD_CACHE_KEY)
    assert selectors.stats_dashboard()["open_reviews"] == 2


# --- the rows jobs walk --------------------------------------------------------------------


def test_attempts_missing_a_snapshot_leave_out_what_no_fetch_can_resolve():
    stored = snapshot({"event_id": "1700000000000.stored"})
    missing = attempt()
    later = attempt()
    attempt(fingerprint_event=stored)  # has its snapshot
    attempt(decision="unverified")  # the verification decides it, never a backfill
    attempt(event_id="")  # nothing to fetch
    attempt(decision="deny", reasons=["event_not_found"])  # Fingerprint said so at signup
    unknown = attempt()
    UnknownEvent.objects.create(event_id=unknown.event_id)  # a backfill found nothing
    assert pks(selectors.attempts_missing_snapshot()) == [missing.pk, later.pk]
    assert pks(selectors.attempts_missing_snapshot(after=missing.pk)) == [later.pk]
    assert selectors.events_stored(event_ids=[stored.event_id, "1700000000000.nope00"]) == {
        stored.event_id
    }


def test_the_cached_drn_answer_is_the_latest_answered_one_young_enough():
    dev = device(platform="android")
    old = DrnSnapshot.objects.create(device=dev, visitor_id=dev.visitor_id, status="ok")
    DrnSnapshot.objects.filter(pk=old.pk).update(fetched_at=timezone.now() - timedelta(hours=2))
    answered = DrnSnapshot.objects.create(device=dev, visitor_id=dev.visitor_id, status="not_found")
    DrnSnapshot.objects.create(device=dev, visitor_id=dev.visitor_id, status="error")
    assert selectors.drn_snapshot_cached(device=dev, max_age_s=3600) == answered
    assert selectors.drn_snapshot_cached(device=dev, max_age_s=0) is None
    DrnSnapshot.objects.filter(pk=answered.pk).delete()
    assert selectors.drn_snapshot_cached(device=dev, max_age_s=3600) is None
    assert selectors.drn_snapshot_cached(device=dev, max_age_s=3 * 3600) == old


def test_the_attempt_awaiting_drn_and_the_devices_latest_lookup():
    dev = device(platform="android")
    answered = DrnSnapshot.objects.create(device=dev, visitor_id=dev.visitor_id, status="ok")
    failed = DrnSnapshot.objects.create(device=dev, visitor_id=dev.visitor_id, status="error")
    attempt(device=dev, drn_snapshot=answered, ago=timedelta(minutes=1))
    waiting = attempt(device=dev, drn_snapshot=failed, ago=timedelta(minutes=2))
    assert selectors.attempt_awaiting_drn(device=dev) == waiting
    assert selectors.device_drn_latest(device_id=dev.pk, other_than=None) == failed
    assert selectors.device_drn_latest(device_id=dev.pk, other_than=failed.pk) is None
    assert selectors.device_drn_latest(device_id=None, other_than=None) is None


def test_what_the_import_and_rescore_read_about_accounts_and_devices():
    User.objects.create_user("Taken")
    assert selectors.usernames_taken(usernames=["taken", "TAKEN", "free", "nul\x00"]) == {"taken"}
    shared, trusted = device(), device(status=DeviceStatus.TRUSTED)
    joins = []
    for i, hours in enumerate((3, 1)):
        row = attempt(
            device=shared, account=User.objects.create_user(f"s{i}"), ago=timedelta(hours=hours)
        )
        joins.append(row.created_at)
    attempt(device=shared, decision="deny")  # no account: not counted
    visitors = [shared.visitor_id, trusted.visitor_id, "NoSuchVisitor0000001"]
    assert selectors.device_account_counts(visitor_ids=visitors) == {shared.visitor_id: 2}
    assert selectors.devices_trusted(visitor_ids=visitors) == {trusted.visitor_id}
    assert selectors.device_join_dates(device_ids={shared.pk, trusted.pk}) == {shared.pk: joins}


def test_the_circumstances_of_a_signup_as_decided_and_the_domain_as_listed_now():
    row = attempt(
        email="ann@x.mailinator.com",
        facts={
            "email_disposable": False,  # not listed when the signup was decided
            "allowlist_entry": "#3 IP range (CIDR) 198.51.100.0/24: QA lab",
            "ip_new_devices": 2,
            "ip_established_devices": 9,
        },
    )
    seen = selectors.attempt_circumstances(attempt=row)
    assert (seen.email_domain, seen.disposable_now, seen.disposable_at_signup) == (
        "x.mailinator.com",
        True,
        False,
    )
    assert seen.allowlist_entry.endswith("QA lab")
    assert (seen.network_new_devices, seen.network_established_devices) == (2, 9)
    before_the_rule = selectors.attempt_circumstances(attempt=attempt(email="bo@example.org"))
    assert before_the_rule.disposable_at_signup is None and before_the_rule.allowlist_entry == ""
