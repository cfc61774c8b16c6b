"""Each check and rule in risk/rules.py, alone and in the combinations that matter, on
hand-made events: no database, no network."""

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest

from risk import rules
from risk.fingerprint.events import Event
from tests.support.rules import CFG, HOME_IP, NOW, human


def fresh_profile(**changes) -> Event:
    """A browser profile Fingerprint met a minute ago."""
    return human(first_seen_at=NOW - timedelta(minutes=1), visitor_found=False, **changes)


def evaluate(event, cfg=CFG, **ctx):
    ctx.setdefault("client_ip", HOME_IP)
    return rules.evaluate_signup(rules.SignupContext(event=event, now=NOW, **ctx), cfg)


def test_clean_human_is_allowed_with_every_check_passed():
    result = evaluate(human())
    assert result.decision == "allow" and result.reasons == []
    assert result.checks["event_found"] == "passed"
    assert result.checks["fresh"] == "passed"
    assert result.checks["ip"] == "passed"
    assert result.checks["origin"] == "skipped"  # no allow-list configured


@pytest.mark.parametrize(
    ("changes", "ctx", "decision", "reason"),
    [
        ({"bot": "bad"}, {}, "deny", "bot_bad"),
        ({"bot": "good"}, {}, "review", "bot_good"),
        ({"visitor_id": ""}, {}, "deny", "no_identification"),
        ({"replayed": True}, {}, "deny", "event_replayed"),
        ({"timestamp": NOW - timedelta(seconds=61)}, {}, "deny", "event_stale"),
        ({"timestamp": None}, {}, "deny", "event_stale"),
        ({}, {"event_reused": True}, "deny", "event_reused"),
        ({}, {"device_status": "blocked"}, "deny", "device_blocked"),
        ({}, {"device_accounts": 10}, "deny", "device_limit_hard"),
        ({}, {"device_accounts": 1}, "review", "device_shared"),
        ({}, {"device_accounts": 1, "same_network": False}, "deny", "device_limit"),
        ({}, {"username_taken": True}, "deny", "username_taken"),
        ({}, {"account_failed": True}, "deny", "account_failed"),
        ({"suspect_score": 10}, {}, "review", "suspect_score"),
        ({"tampering": True}, {}, "review", "tampering"),
        ({"anti_detect_browser": True, "tampering": True}, {}, "deny", "anti_detect_browser"),
        ({"platform": "android", "emulator": True}, {}, "review", "emulator"),
        ({"platform": "android", "emulator": True, "root_apps": True}, {}, "deny",
         "emulator_tampered"),
        ({"platform": "android", "emulator": True, "frida": True}, {}, "deny",
         "emulator_tampered"),
        ({"platform": "android", "frida": True}, {}, "review", "instrumented_app"),
        ({"platform": "android", "cloned_app": True}, {}, "review", "instrumented_app"),
        ({"virtual_machine": True}, {}, "review", "virtual_machine"),
        ({"virtual_machine": True, "developer_tools": True}, {}, "deny", "vm_developer_tools"),
        ({"velocity": {"distinct_ip": {"1_hour": 10}}}, {}, "deny", "velocity_ips"),
        ({"tor": True}, {}, "review", "tor"),
        ({"confidence": 0.3}, {}, "review", "low_confidence"),
        ({"ip": "203.0.113.1"}, {}, "review", "ip_mismatch"),
        ({}, {"email_domain": "mailinator.com"}, "review", "disposable_email"),
        ({"datacenter": True}, {"email_domain": "mailinator.com"}, "deny",
         "disposable_email_farm"),
    ],
)  # fmt: skip
def test_each_rule(changes, ctx, decision, reason):
    result = evaluate(human(**changes), **ctx)
    assert result.decision == decision
    assert reason in result.reasons


# --- privacy is not fraud ----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"vpn": True, "datacenter": True, "suspect_score": 5},
        {"incognito": True, "suspect_score": 1},
        {"privacy_settings": True, "suspect_score": 2},
        {"incognito": True, "privacy_settings": True, "vpn": True, "suspect_score": 8},
        {"developer_tools": True},
        {"proxy": True, "proxy_confidence": "low"},
    ],
)
def test_lone_privacy_signals_are_not_reasons(changes):
    assert evaluate(human(**changes)).decision == "allow"


def test_a_new_vpn_user_is_not_treated_as_a_datacenter():
    """A consumer VPN's exit is a datacenter; that alone is a privacy choice."""
    assert evaluate(fresh_profile(vpn=True, datacenter=True)).decision == "allow"


# --- brand-new devices on hosting networks ---------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"datacenter": True},
        {"proxy": True, "proxy_confidence": "high"},
        {"ip_blocklisted": True},
    ],
)
def test_a_brand_new_device_on_a_hosting_network_is_denied(changes):
    result = evaluate(fresh_profile(**changes))
    assert result.decision == "deny" and "new_device_hosting" in result.reasons


def test_an_established_device_on_a_datacenter_ip_is_not_denied():
    """A person on a cloud desktop or a corporate egress: known device, nothing else."""
    assert evaluate(human(datacenter=True)).decision == "allow"


def test_brand_new_is_judged_by_fingerprint_first_seen():
    assert rules.brand_new(fresh_profile(), CFG)
    assert not rules.brand_new(human(), CFG)
    assert rules.brand_new(human(first_seen_at=None, visitor_found=False), CFG)
    assert not rules.brand_new(human(first_seen_at=None, visitor_found=None), CFG)


# --- the graded device limit: households and farms ----------------------------------------


@pytest.mark.parametrize("accounts", [1, 2, 5, 9])
def test_a_households_next_accounts_are_held_never_denied(accounts):
    """A family laptop at home: same network as its earlier signups, person-like velocity."""
    result = evaluate(human(), device_accounts=accounts, same_network=True)
    assert result.decision == "review" and result.reasons == ["device_shared"]


def test_a_household_signing_up_together_on_its_first_visit_is_held():
    """A young device alone is not a farm signal: a family on its first evening looks so."""
    result = evaluate(fresh_profile(), device_accounts=1, same_network=True)
    assert result.decision == "review" and result.reasons == ["device_shared"]


def test_a_household_on_a_vpn_or_in_incognito_is_still_only_held():
    event = human(vpn=True, datacenter=True, incognito=True, suspect_score=6)
    assert evaluate(event, device_accounts=2, same_network=True).decision == "review"


@pytest.mark.parametrize(
    ("changes", "ctx", "signal"),
    [
        ({}, {"same_network": False}, "network_changed"),
        ({"velocity": {"distinct_ip": {"1_hour": 4}}}, {}, "velocity"),
        ({"datacenter": True}, {}, "hosting_network"),
        ({"proxy": True, "proxy_confidence": "high"}, {}, "hosting_network"),
        ({"high_activity": True}, {}, "high_activity"),
        ({"platform": "android", "emulator": True}, {}, "emulator"),
        ({"platform": "android", "root_apps": True}, {}, "root_apps"),
        ({"virtual_machine": True}, {}, "virtual_machine"),
        ({"bot": "good"}, {}, "bot"),
        ({"tampering": True}, {}, "tampering"),
        ({"factory_reset_at": NOW - timedelta(hours=2)}, {}, "factory_reset"),
    ],
)
def test_a_farm_signal_past_the_soft_limit_denies(changes, ctx, signal):
    context = rules.SignupContext(
        event=human(**changes), now=NOW, client_ip=HOME_IP, device_accounts=1, **ctx
    )
    assert signal in rules.farm_signals(context, CFG)
    result = rules.evaluate_signup(context, CFG)
    assert result.decision == "deny" and "device_limit" in result.reasons
    # The same signals on a device's first account are not a device-limit matter.
    first = rules.evaluate_signup(dataclasses.replace(context, device_accounts=0), CFG)
    assert "device_limit" not in first.reasons


def test_a_same_device_farm_behind_rotating_proxies_is_denied_from_its_second_account():
    event = human(velocity={"distinct_ip": {"1_hour": 2}})
    first = evaluate(event, device_accounts=0)
    second = evaluate(event, device_accounts=1, same_network=False)
    assert first.decision == "allow"
    assert second.decision == "deny" and second.reasons == ["device_limit"]


def test_past_the_hard_limit_even_a_clean_household_is_denied():
    result = evaluate(human(), device_accounts=10, same_network=True)
    assert result.decision == "deny" and result.reasons == ["device_limit_hard"]


def test_strict_mode_makes_the_soft_limit_deny_as_the_seed_does():
    cfg = CFG.replace(device_limit_strict=True)
    result = evaluate(human(), cfg=cfg, device_accounts=1, same_network=True)
    assert result.decision == "deny" and result.reasons == ["device_limit"]


def test_a_trusted_device_has_no_limit():
    for accounts in (1, 50):
        result = evaluate(human(), device_accounts=accounts, device_status="trusted")
        assert result.decision == "allow"


def test_soft_limit_of_three_allows_three_accounts():
    cfg = CFG.replace(max_accounts_per_device=3)
    assert evaluate(human(), cfg=cfg, device_accounts=2).decision == "allow"
    assert evaluate(human(), cfg=cfg, device_accounts=3, same_network=True).decision == "review"


# --- many devices behind one IP ----------------------------------------------------------


def test_carrier_nat_many_established_phones_on_one_ip_are_allowed():
    phone = human(platform="android", url="")
    assert evaluate(phone, ip_new_devices=200).decision == "allow"


def test_a_rotating_farm_of_brand_new_devices_behind_one_ip_is_denied():
    result = evaluate(fresh_profile(), ip_new_devices=5)
    assert result.decision == "deny" and result.reasons == ["ip_new_device_burst"]
    held = evaluate(fresh_profile(), ip_new_devices=2)
    assert held.decision == "review" and held.reasons == ["ip_new_devices"]
    assert evaluate(fresh_profile(), ip_new_devices=1).decision == "allow"
    off = CFG.replace(ip_new_devices_review_1h=0, ip_new_devices_deny_1h=0)
    assert evaluate(fresh_profile(), cfg=off, ip_new_devices=50).decision == "allow"


def test_drn_vouches_for_a_new_install_of_the_app():
    """An Android phone DRN has known for months is a new install, not a new device: many of
    them behind one carrier address are not a burst."""

    class Drn:
        first_seen_at = NOW - timedelta(days=200)
        location_masked = False
        max_percentile = 0.25

    phone = fresh_profile(platform="android", url="")
    assert evaluate(phone, ip_new_devices=40).decision == "deny"
    assert evaluate(phone, ip_new_devices=40, drn=Drn()).decision == "allow"
    # and a reviewer vouches for a device by trusting it
    assert evaluate(phone, ip_new_devices=40, device_status="trusted").decision == "allow"


# --- outcomes and derivations -----------------------------------------------------------


def test_deny_wins_over_review_and_all_reasons_are_kept_in_table_order():
    result = evaluate(human(bot="bad", tor=True, suspect_score=20))
    assert result.decision == "deny"
    assert result.reasons == ["bot_bad", "tor", "suspect_score"]


def test_not_found_event():
    result = rules.evaluate_signup(
        rules.SignupContext(event=None, now=NOW, fetch_failure="not_found"), CFG
    )
    assert result.decision == "deny" and result.reasons == ["event_not_found"]
    assert result.checks["event_found"] == "failed"


@pytest.mark.parametrize(("policy", "decision"), [("review", "unverified"), ("deny", "deny")])
def test_fingerprint_unavailable_follows_policy(policy, decision):
    cfg = CFG.replace(failure_policy=policy)
    result = rules.evaluate_signup(
        rules.SignupContext(event=None, now=NOW, fetch_failure="unavailable"), cfg
    )
    assert result.decision == decision and result.reasons == ["fingerprint_unavailable"]
    assert result.checks["event_found"] == "skipped"
    assert rules.is_temporary(result.reasons)


def test_ip_check_fails_closed_when_the_client_ip_is_unknown():
    result = evaluate(human(), client_ip="")
    assert result.decision == "review" and "ip_mismatch" in result.reasons
    assert result.checks["ip"] == "failed"


def test_ip_check_off_and_ipv4_mapped_addresses():
    assert evaluate(human(ip="203.0.113.1"), cfg=CFG.replace(check_ip=False)).decision == "allow"
    assert evaluate(human(), client_ip="::ffff:198.51.100.7").decision == "allow"


def test_origin_allow_list():
    cfg = CFG.replace(allowed_origins=("https://shop.example",))
    assert evaluate(human(), cfg=cfg).checks["origin"] == "passed"
    other_site = evaluate(human(url="https://evil.example/x"), cfg=cfg)
    assert other_site.decision == "deny" and "origin_not_allowed" in other_site.reasons
    mismatch = evaluate(human(), cfg=cfg, request_origin="https://other.example")
    assert mismatch.decision == "review" and "origin_mismatch" in mismatch.reasons
    android = evaluate(human(url="", platform="android"), cfg=cfg)
    assert android.decision == "allow"


def test_small_clock_skew_is_fresh():
    assert evaluate(human(timestamp=NOW + timedelta(seconds=5))).decision == "allow"


def test_refused_by_event_is_the_event_only_deny_rules():
    assert rules.refused_by_event(human(bot="bad"), now=NOW, cfg=CFG)
    assert rules.refused_by_event(fresh_profile(datacenter=True), now=NOW, cfg=CFG)
    assert not rules.refused_by_event(human(tor=True), now=NOW, cfg=CFG)  # review only
    # History rules never count: the event alone cannot know the device's accounts.
    assert not rules.refused_by_event(human(), now=NOW, cfg=CFG)


def test_refused_without_lock_only_for_facts_that_only_grow():
    def refused(cfg=CFG, **kw):
        ctx = rules.SignupContext(event=human(), now=NOW, client_ip=HOME_IP, **kw)
        return rules.refused_without_lock(rules.evaluate_signup(ctx, cfg))

    assert refused(device_accounts=10)
    assert refused(device_status="blocked")
    assert refused(event_reused=True)
    # A clean device at the soft limit needs its networks (under the lock) to be decided.
    assert not refused(device_accounts=1)
    assert refused(CFG.replace(device_limit_strict=True), device_accounts=1)
    # Without an event nothing is refused lock-free (there is no device to lock anyway).
    no_event = rules.SignupContext(event=None, now=NOW, fetch_failure="unavailable")
    assert not rules.refused_without_lock(rules.evaluate_signup(no_event, CFG))


def test_every_rule_fires_in_some_context_and_is_described():
    """Each row's predicate is reachable: a dead rule is a bug, not a safety."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for rule in rules.RULES:
        assert rule.outcome in ("review", "deny", "unverified"), rule.code
        assert len(rule.description.split()) >= 4, rule.code  # a sentence for reviewers
        # A setting a description names is one an operator can find in the README.
        for name in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", rule.description):
            assert f"`{name}`" in readme, (rule.code, name)
    fired = set()
    for case in _every_case():
        fired.update(rules.evaluate_signup(case, CFG).reasons)
    assert fired == set(rules.REASONS) - {"drn_new_device", "drn_location_masked",
                                          "drn_high_percentile", "origin_not_allowed",
                                          "origin_mismatch"}  # fmt: skip


def _every_case():
    from itertools import chain

    def c(event=None, **kw):
        kw.setdefault("client_ip", HOME_IP)
        return rules.SignupContext(event=event, now=NOW, **kw)

    single = [
        c(fetch_failure="unavailable"),
        c(fetch_failure="not_found"),
        c(human(), username_taken=True),
        c(human(), account_failed=True),
        c(human(ip="203.0.113.9")),
        c(fresh_profile(datacenter=True)),
        c(fresh_profile(), ip_new_devices=9),
        c(fresh_profile(), ip_new_devices=3),
        c(human(), email_domain="mailinator.com"),
        c(human(datacenter=True), email_domain="mailinator.com"),
    ]
    params = test_each_rule.pytestmark[0].args[1]
    return chain(single, (c(human(**changes), **ctx) for changes, ctx, _, _ in params))


# --- shared networks, throwaway mailboxes, allowlists --------------------------------------


def test_a_shared_network_of_established_devices_holds_no_brand_new_one():
    """A campus or carrier address: many devices within the hour, most of them old. The same
    counts of brand-new devices that hold or deny on a farm's address hold no one here."""
    campus = evaluate(fresh_profile(), ip_new_devices=6, ip_established_devices=20)
    assert campus.decision == "allow" and campus.reasons == []
    farm = evaluate(fresh_profile(), ip_new_devices=6, ip_established_devices=1)
    assert farm.decision == "deny" and farm.reasons == ["ip_new_device_burst"]
    # At the share threshold the counts apply again.
    half = evaluate(fresh_profile(), ip_new_devices=3, ip_established_devices=3)
    assert half.reasons == ["ip_new_devices"]
    stricter = CFG.replace(ip_new_device_share=0.2)
    assert evaluate(
        fresh_profile(), cfg=stricter, ip_new_devices=6, ip_established_devices=20
    ).reasons == ["ip_new_device_burst"]
    assert rules.new_device_share(rules.SignupContext(event=None, now=NOW)) == 1.0


def test_a_throwaway_mailbox_holds_and_with_a_farm_signal_denies():
    assert evaluate(human(), email_domain="mailinator.com").reasons == ["disposable_email"]
    assert evaluate(human(), email_domain="x.mailinator.com").decision == "review"
    assert evaluate(human(), email_domain="gmail.com").decision == "allow"
    farm = evaluate(human(bot="bad"), email_domain="mailinator.com")
    assert "disposable_email_farm" in farm.reasons and "disposable_email" not in farm.reasons
    own = CFG.replace(
        disposable_email_domains=("trial-mail.example",),
        disposable_email_exempt=("mailinator.com",),
    )
    assert evaluate(human(), cfg=own, email_domain="mailinator.com").decision == "allow"
    assert evaluate(human(), cfg=own, email_domain="a.trial-mail.example").decision == "review"


def test_an_allowlisted_signup_skips_volume_and_device_limits_only():
    entry = "#1 IP range (CIDR) 198.51.100.0/24: QA lab"
    lab = {"allowlist_entry": entry}
    assert evaluate(fresh_profile(), ip_new_devices=40, **lab).decision == "allow"
    assert evaluate(human(), device_accounts=50, **lab).decision == "allow"
    assert evaluate(human(), device_accounts=1, same_network=False, **lab).decision == "allow"
    assert evaluate(human(), device_accounts=50).decision == "deny"
    # Never the event's own signals, the server-side checks or a reviewer's block.
    for changes, ctx, reason in [
        ({"bot": "bad"}, {}, "bot_bad"),
        ({"tampering": True}, {}, "tampering"),
        ({"platform": "android", "emulator": True}, {}, "emulator"),
        ({"replayed": True}, {}, "event_replayed"),
        ({"ip": "203.0.113.1"}, {}, "ip_mismatch"),
        ({}, {"event_reused": True}, "event_reused"),
        ({}, {"device_status": "blocked"}, "device_blocked"),
        ({}, {"email_domain": "mailinator.com"}, "disposable_email"),
    ]:
        assert reason in evaluate(human(**changes), **ctx, **lab).reasons
    skipped = {rule.code for rule in rules.RULES if rule.volume}
    assert skipped == {
        "ip_new_device_burst", "ip_new_devices", "device_limit_hard", "device_limit",
        "device_shared",
    }  # fmt: skip
