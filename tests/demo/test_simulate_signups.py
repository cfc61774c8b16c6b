"""simulate_signups against the live server and the in-process sandbox, over real HTTP."""

from __future__ import annotations

import io
from collections import Counter, defaultdict

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from risk.models import SignupAttempt
from sandbox import simulation

pytestmark = pytest.mark.django_db(transaction=True)


def simulated_kind(attempt: SignupAttempt) -> str | None:
    """The population kind, from the event tags the simulator set (None: no event stored)."""
    event = attempt.fingerprint_event
    return event.raw.get("tags", {}).get("simulated") if event else None


def test_population_leaves_every_kind_of_attempt(live_server, sandbox):
    out = io.StringIO()
    call_command(
        "simulate_signups",
        users=60,
        api=live_server.url,
        sandbox=sandbox.base_url,
        seed=7,
        workers=4,
        no_progress=True,
        stdout=out,
    )
    attempts = list(SignupAttempt.objects.select_related("fingerprint_event"))
    assert len(attempts) == 60  # every signup reached the API and was recorded
    assert {a.decision for a in attempts} == {"allow", "review", "deny"}
    reasons = Counter(r for a in attempts for r in a.reasons)
    for reason in (
        "device_limit", "bot_bad", "vpn", "tampering", "tor", "bot_good", "ip_mismatch",
        "suspect_score", "event_stale", "event_replayed", "event_not_found",
    ):  # fmt: skip
        assert reasons[reason] > 0, reason

    by_kind: defaultdict[str, list[SignupAttempt]] = defaultdict(list)
    for attempt in attempts:
        by_kind[simulated_kind(attempt) or "forged"].append(attempt)
    assert set(by_kind) == set(simulation.KINDS)
    # Ordinary people on their own browser, with the client IP the API saw: all allowed.
    assert {a.decision for a in by_kind["ordinary"]} == {"allow"}
    assert {a.checks["ip"] for a in by_kind["ordinary"]} == {"passed"}
    # A family laptop: one account, then the device limit.
    families = defaultdict(list)
    for attempt in by_kind["family"]:
        families[attempt.visitor_id].append(attempt.decision)
    assert any(len(decisions) > 1 for decisions in families.values())
    for decisions in families.values():
        assert sorted(decisions) == ["allow"] + ["deny"] * (len(decisions) - 1)
    # A farm device opens many accounts; none is simply allowed.
    farm_devices = Counter(a.visitor_id for a in by_kind["farm"])
    assert max(farm_devices.values()) >= 4
    assert "allow" not in {a.decision for a in by_kind["farm"]}
    # Android phones with DRN history: known to Fingerprint before this signup.
    for attempt in by_kind["android_drn"]:
        assert attempt.fingerprint_event.platform == "android"
        assert attempt.fingerprint_event.raw["identification"]["visitor_found"] is True
    assert {a.decision for a in by_kind["bad_bot"]} == {"deny"}
    assert {a.decision for a in by_kind["vpn"]} == {"review"}
    # Accounts exist exactly for the attempts that were not denied (held ones inactive).
    kept = [a for a in attempts if a.decision != "deny"]
    assert User.objects.count() == len(kept)
    assert User.objects.filter(is_active=False).count() == sum(
        a.decision == "review" for a in attempts
    )

    summary = out.getvalue()
    assert "60 signups from" in summary
    assert "client IP 127.0.0.1" in summary
    assert "device_limit" in summary and "bot_bad" in summary


def test_custom_mix_only_runs_the_kinds_asked_for_and_reruns_are_new_devices(live_server, sandbox):
    references = set()
    for _ in range(2):  # same seed twice: same population, but new usernames and devices
        report = simulation.signups_simulate(
            api_url=live_server.url,
            sandbox_url=sandbox.base_url,
            users=10,
            mix=simulation.parse_mix("ordinary=1,bad_bot=1"),
            seed=3,
            progress=False,
        )
        assert Counter(a.kind for a in report.attempts) == {"ordinary": 5, "bad_bot": 5}
        assert Counter(a.outcome for a in report.attempts) == {"created": 5, "denied": 5}
        references.update(report.references)
    assert references == set(SignupAttempt.objects.values_list("reference", flat=True))
    assert len(references) == 20


def test_allocation_adds_up_and_keeps_rare_kinds():
    counts = simulation.allocate(60, simulation.DEFAULT_MIX)
    assert sum(counts.values()) == 60
    assert min(counts.values()) >= 1
    assert sum(simulation.allocate(7, {"ordinary": 1, "farm": 1}).values()) == 7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mix": "ordinary=1,robots=2"}, "bad mix entry"),
        ({"mix": "ordinary=x"}, "not a number"),
        ({"mix": "ordinary=0"}, "positive weight"),
        ({"users": 0}, "at least 1"),
        ({"api": "ftp://example"}, "must be an http"),
    ],
)
def test_bad_options_are_command_errors(sandbox, options, message):
    kwargs = {"users": 5, "api": "http://127.0.0.1:9", "sandbox": sandbox.base_url, **options}
    with pytest.raises(CommandError, match=message):
        call_command("simulate_signups", no_progress=True, **kwargs)
    assert not SignupAttempt.objects.exists()


def test_unreachable_servers_are_command_errors(sandbox):
    with pytest.raises(CommandError, match="cannot reach the sandbox"):
        call_command("simulate_signups", users=5, sandbox="http://127.0.0.1:9", no_progress=True)
    with pytest.raises(CommandError, match="cannot reach the API"):
        call_command(
            "simulate_signups",
            users=5,
            api="http://127.0.0.1:9",
            sandbox=sandbox.base_url,
            no_progress=True,
        )
