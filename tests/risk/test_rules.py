"""Each check and rule in risk/rules.py, on hand-made events: no database, no network."""

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from risk import rules
from risk.conf import RiskSettings
from risk.fingerprint.events import Event

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CFG = RiskSettings(
    secret_api_key="k",
    api_url="http://sandbox",
    api_version="v4",
    region="us",
    timeout_s=2,
    connect_timeout_s=1,
    max_retries=2,
    failure_policy="review",
    uses_sandbox=True,
    max_accounts_per_device=1,
    max_event_age_s=60,
    min_confidence=0.5,
    suspect_score_review=10,
    allowed_origins=(),
    check_ip=True,
    trusted_proxy_count=0,
)


def human(**changes) -> Event:
    base = Event(
        event_id="1.a",
        api_version="v4",
        raw={},
        visitor_id="V1",
        timestamp=NOW - timedelta(seconds=2),
        ip="198.51.100.7",
        url="https://shop.example/signup",
        platform="js",
        confidence=0.99,
        replayed=False,
        bot="not_detected",
        suspect_score=0,
        vpn=False,
        tampering=False,
        tor=False,
    )
    return dataclasses.replace(base, **changes)


def evaluate(event, cfg=CFG, **ctx):
    ctx.setdefault("client_ip", "198.51.100.7")
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
        ({}, {"device_accounts": 1}, "deny", "device_limit"),
        ({}, {"device_status": "blocked"}, "deny", "device_blocked"),
        ({"suspect_score": 10}, {}, "review", "suspect_score"),
        ({"vpn": True}, {}, "review", "vpn"),
        ({"tampering": True}, {}, "review", "tampering"),
        ({"anti_detect_browser": True}, {}, "review", "tampering"),
        ({"tor": True}, {}, "review", "tor"),
        ({"confidence": 0.3}, {}, "review", "low_confidence"),
        ({"ip": "203.0.113.1"}, {}, "review", "ip_mismatch"),
    ],
)
def test_each_rule(changes, ctx, decision, reason):
    result = evaluate(human(**changes), **ctx)
    assert result.decision == decision
    assert reason in result.reasons


def test_suspect_score_below_threshold_is_allowed():
    assert evaluate(human(suspect_score=9)).decision == "allow"


def test_trusted_device_lifts_the_account_limit():
    assert evaluate(human(), device_accounts=5, device_status="trusted").decision == "allow"


def test_deny_wins_over_review_and_all_reasons_are_kept():
    result = evaluate(human(bot="bad", vpn=True, tor=True))
    assert result.decision == "deny"
    assert result.reasons == ["bot_bad", "vpn", "tor"]


def test_not_found_event():
    result = rules.evaluate_signup(
        rules.SignupContext(event=None, now=NOW, fetch_failure="not_found"), CFG
    )
    assert result.decision == "deny" and result.reasons == ["event_not_found"]
    assert result.checks["event_found"] == "failed"


@pytest.mark.parametrize(("policy", "decision"), [("review", "review"), ("deny", "deny")])
def test_fingerprint_unavailable_follows_policy(policy, decision):
    cfg = dataclasses.replace(CFG, failure_policy=policy)
    result = rules.evaluate_signup(
        rules.SignupContext(event=None, now=NOW, fetch_failure="unavailable"), cfg
    )
    assert result.decision == decision and result.reasons == ["fingerprint_unavailable"]


def test_ip_check_off_and_ipv4_mapped_addresses():
    assert (
        evaluate(human(ip="203.0.113.1"), cfg=dataclasses.replace(CFG, check_ip=False)).decision
        == "allow"
    )
    assert evaluate(human(), client_ip="::ffff:198.51.100.7").decision == "allow"


def test_origin_allow_list():
    cfg = dataclasses.replace(CFG, allowed_origins=("https://shop.example",))
    assert evaluate(human(), cfg=cfg).checks["origin"] == "passed"
    other_site = evaluate(human(url="https://evil.example/x"), cfg=cfg)
    assert other_site.decision == "deny" and "origin_not_allowed" in other_site.reasons
    mismatch = evaluate(human(), cfg=cfg, request_origin="https://other.example")
    assert mismatch.decision == "review" and "origin_mismatch" in mismatch.reasons
    android = evaluate(human(url="", platform="android"), cfg=cfg)
    assert android.decision == "allow"


def test_small_clock_skew_is_fresh():
    assert evaluate(human(timestamp=NOW + timedelta(seconds=5))).decision == "allow"


def _codes_the_rules_emit() -> set[str]:
    """String literals that risk/rules.py appends to reasons or passes to check()."""
    import ast
    import inspect

    codes = set()
    for node in ast.walk(ast.parse(inspect.getsource(rules))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "append":
            args = node.args[:1]
        elif isinstance(func, ast.Name) and func.id == "check":
            args = node.args[2:3]
        elif isinstance(func, ast.Name) and func.id in ("Assessment", "decide"):
            args = [e for a in node.args if isinstance(a, ast.List) for e in a.elts]
        else:
            continue
        codes |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return codes


def test_every_reason_code_the_rules_emit_is_documented_and_none_is_dead():
    emitted = _codes_the_rules_emit()
    assert len(emitted) >= 20  # the walk above really finds the rules' codes
    assert emitted == set(rules.REASONS), emitted ^ set(rules.REASONS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for reason in rules.REASONS.values():
        assert reason.outcome in (rules.REVIEW, rules.DENY)
        assert len(reason.description.split()) >= 4, reason.code  # a sentence for reviewers
        # A setting a description names is one an operator can find in the README.
        for name in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", reason.description):
            assert f"`{name}`" in readme, (reason.code, name)
