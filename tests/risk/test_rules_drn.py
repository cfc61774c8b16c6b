"""The DRN rules, on parsed DRN answers: no database, no network."""

import dataclasses
from datetime import timedelta

import pytest

from risk import rules
from risk.fingerprint.drn import parse_drn
from tests.support.rules import CFG, NOW, human

OLD = "2026-10-01T08:00:00Z"  # well before NOW: not a new device


def activity(*countries):
    """countries: (code, {"ip": share, "origin": share}) -> a DRN body."""
    return {
        "data": {
            "regionalActivity": {
                "countries": [
                    {
                        "code": code,
                        "detectors": [
                            {"type": kind, "activityPercentage": share}
                            for kind, share in shares.items()
                        ],
                    }
                    for code, shares in countries
                ]
            },
            "timestamps": {"firstSeenAt": OLD, "lastSeenAt": "2026-11-23T11:00:00Z"},
        }
    }


def evaluate(drn, cfg=CFG):
    ctx = rules.SignupContext(event=human(platform="android", url=""), now=NOW, drn=drn)
    return rules.evaluate_signup(dataclasses.replace(ctx, client_ip="198.51.100.7"), cfg)


# The seed document's four regional-activity examples.
REGIONAL_EXAMPLES = [
    pytest.param([("US", {"ip": 1.0, "origin": 1.0})], False, id="US only"),
    pytest.param([("US", {"ip": 1.0, "origin": 1.0})], False, id="US via US VPN"),
    pytest.param([("US", {"ip": 1.0}), ("RU", {"origin": 1.0})], True, id="Russia via US VPN"),
    pytest.param(
        [("US", {"ip": 0.6}), ("CA", {"ip": 0.4}), ("RU", {"origin": 1.0})],
        True,
        id="Russia via US 60% / Canada 40%",
    ),
]


@pytest.mark.parametrize(("countries", "masked"), REGIONAL_EXAMPLES)
def test_regional_activity_examples(countries, masked):
    result = parse_drn(activity(*countries), visitor_id="v")
    assert result.location_masked is masked
    assessment = evaluate(result)
    if masked:
        assert assessment.reasons == ["drn_location_masked"]
        assert assessment.decision == "review"
        assert [c.code for c in result.countries if c.masked] == ["RU"]
    else:
        assert assessment.reasons == []
        assert assessment.decision == "allow"


def test_location_masked_rule_can_be_switched_off():
    result = parse_drn(activity(("US", {"ip": 1.0}), ("RU", {"origin": 1.0})), visitor_id="v")
    cfg = dataclasses.replace(CFG, drn_location_masked_review=False)
    assert evaluate(result, cfg).reasons == []


def stamps(first_seen_at):
    return parse_drn({"data": {"timestamps": {"firstSeenAt": first_seen_at}}}, visitor_id="v")


@pytest.mark.parametrize(
    ("age", "fires"),
    [
        (timedelta(minutes=2), True),
        (timedelta(minutes=59), True),
        (timedelta(minutes=60), False),
        (timedelta(days=3), False),
        (timedelta(minutes=-1), True),  # clock skew: "first seen" a minute in our future
    ],
)
def test_new_device(age, fires):
    first = (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    reasons = evaluate(stamps(first)).reasons
    assert ("drn_new_device" in reasons) is fires


def test_new_device_threshold_comes_from_settings():
    result = stamps((NOW - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert evaluate(result).reasons == []
    longer = dataclasses.replace(CFG, drn_new_device_minutes=120)
    assert evaluate(result, longer).reasons == ["drn_new_device"]
    off = dataclasses.replace(CFG, drn_new_device_minutes=0)
    assert evaluate(stamps(NOW.strftime("%Y-%m-%dT%H:%M:%SZ")), off).reasons == []


def percentile(value):
    body = {"data": {"suspectScore": {"maximum": {"value": 30, "percentile": value}}}}
    return parse_drn(body, visitor_id="v")


@pytest.mark.parametrize(
    ("value", "threshold", "fires"),
    [
        (0.95, 0.95, True),
        (0.75, 0.95, False),
        (0.75, 0.75, True),
        (0.5, 0.75, False),
        (0, 0.25, False),
        (None, 0.25, False),
    ],
)
def test_high_percentile(value, threshold, fires):
    cfg = dataclasses.replace(CFG, drn_percentile_review=threshold)
    assessment = evaluate(percentile(value), cfg)
    assert ("drn_high_percentile" in assessment.reasons) is fires
    assert assessment.decision == ("review" if fires else "allow")


def test_every_drn_rule_fires_together_and_reviews():
    body = activity(("US", {"ip": 1.0}), ("RU", {"origin": 1.0}))
    body["data"]["timestamps"]["firstSeenAt"] = "2026-11-23T11:50:00Z"
    body["data"]["suspectScore"] = {"maximum": {"value": 40, "percentile": 0.95}}
    assessment = evaluate(parse_drn(body, visitor_id="v"))
    assert assessment.reasons == ["drn_new_device", "drn_location_masked", "drn_high_percentile"]
    assert assessment.decision == "review"
    for code in assessment.reasons:
        assert rules.REASONS[code].outcome == rules.REVIEW


def test_no_or_empty_drn_never_fires():
    assert evaluate(None).reasons == []
    assert evaluate(parse_drn({}, visitor_id="v")).reasons == []


def test_drn_does_not_soften_a_deny():
    result = parse_drn(activity(("US", {"ip": 1.0}), ("RU", {"origin": 1.0})), visitor_id="v")
    ctx = rules.SignupContext(
        event=human(platform="android", url="", bot="bad"),
        now=NOW,
        client_ip="198.51.100.7",
        drn=result,
    )
    assessment = rules.evaluate_signup(ctx, CFG)
    assert assessment.decision == "deny"
    assert assessment.reasons == ["bot_bad", "drn_location_masked"]


def test_rules_read_a_stored_snapshot_too():
    """The signup passes a DrnSnapshot row; the rules only read its columns."""
    from risk.models import DrnSnapshot

    snapshot = DrnSnapshot(
        first_seen_at=NOW - timedelta(minutes=5),
        location_masked=True,
        max_percentile=0.95,
    )
    assert evaluate(snapshot).reasons == [
        "drn_new_device",
        "drn_location_masked",
        "drn_high_percentile",
    ]
