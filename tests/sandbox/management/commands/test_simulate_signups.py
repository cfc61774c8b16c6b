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


def test_population_leaves_every_kind_of_attempt(live_server, sandbox, settings):
    settings.RISK_TRUSTED_PROXY_COUNT = 1  # as bin/run's server: the demo forwards its IPs
    out = io.StringIO()
    call_command(
        "simulate_signups",
        users=120,
        api=live_server.url,
        sandbox=sandbox.base_url,
        seed=7,
        workers=4,
        forwarded=True,
        no_progress=True,
        stdout=out,
    )
    attempts = list(SignupAttempt.objects.select_related("fingerprint_event"))
    owners = [a for a in attempts if a.username.startswith("owner_")]  # stolen ids' owners
    assert len(attempts) - len(owners) == 120  # every signup reached the API and was recorded
    assert {a.decision for a in attempts} == {"allow", "review", "deny"}
    reasons = Counter(r for a in attempts for r in a.reasons)
    for reason in (
        "device_shared", "bot_bad", "anti_detect_browser", "emulator_tampered",
        "vm_developer_tools", "tor", "bot_good", "ip_mismatch", "event_stale",
        "event_replayed", "event_not_found", "event_reused",
    ):  # fmt: skip
        assert reasons[reason] > 0, reason

    by_kind: defaultdict[str, list[SignupAttempt]] = defaultdict(list)
    for attempt in attempts:
        if attempt.username.startswith("owner_"):
            continue
        by_kind[simulated_kind(attempt) or "forged_or_stolen"].append(attempt)
    assert set(simulation.KINDS) - {"forged", "stolen"} <= set(by_kind)
    # People with no reason to doubt them: allowed, with the IP the proxy forwarded.
    for kind in ("ordinary", "android_user", "privacy", "carrier_nat", "vpn"):
        assert {a.decision for a in by_kind[kind]} == {"allow"}, kind
    assert {a.checks["ip"] for a in by_kind["ordinary"]} == {"passed"}
    assert len({a.client_ip for a in by_kind["carrier_nat"]}) == 1  # one NAT address
    # A family laptop or an office PC: one account, then held, never denied.
    for kind in ("family", "office"):
        devices = defaultdict(list)
        for attempt in sorted(by_kind[kind], key=lambda a: a.pk):
            devices[attempt.visitor_id].append(attempt.decision)
        assert any(len(decisions) > 1 for decisions in devices.values()), kind
        for decisions in devices.values():
            assert decisions == ["allow"] + ["review"] * (len(decisions) - 1), kind
    # Students behind one campus address: allowed, though some browsers are brand-new.
    assert {a.decision for a in by_kind["campus"]} == {"allow"}
    assert len({a.client_ip for a in by_kind["campus"]}) == 1
    # The allowlisted QA lab: many accounts per machine, all allowed, the entry recorded.
    lab = by_kind["qa_lab"]
    assert len(lab) > len({a.visitor_id for a in lab}) and {a.decision for a in lab} == {"allow"}
    assert all(a.facts["allowlist_entry"].endswith("QA lab (demo)") for a in lab)
    # Throwaway mailboxes: held, denied once the operator's fresh browsers pile up.
    trial = by_kind["trial_abuse"]
    assert "allow" not in {a.decision for a in trial}
    assert all({"disposable_email", "disposable_email_farm"} & set(a.reasons) for a in trial)
    # Farms, bots and replays: never allowed.
    for kind in ("proxy_farm", "antidetect", "emulator_farm", "scripted_vm", "bad_bot",
                 "replayed", "stale"):  # fmt: skip
        assert {a.decision for a in by_kind[kind]} == {"deny"}, kind
    # Accounts exist exactly for the attempts that were not denied (held ones inactive).
    kept = [a for a in attempts if a.decision != "deny"]
    assert User.objects.count() == len(kept)
    assert User.objects.filter(is_active=False).count() == sum(
        a.decision == "review" for a in attempts
    )

    summary = out.getvalue()
    assert "120 signups from" in summary
    assert "device_shared" in summary and "bot_bad" in summary


def test_custom_mix_only_runs_the_kinds_asked_for_and_reruns_are_new_devices(
    live_server, sandbox, settings
):
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    references = set()
    for _ in range(2):  # same seed twice: same population, but new usernames and devices
        report = simulation.signups_simulate(
            api_url=live_server.url,
            sandbox_url=sandbox.base_url,
            users=10,
            mix=simulation.parse_mix("ordinary=1,bad_bot=1"),
            seed=3,
            forwarded=True,
            progress=False,
        )
        assert Counter(a.kind for a in report.attempts) == {"ordinary": 5, "bad_bot": 5}
        assert Counter(a.outcome for a in report.attempts) == {"created": 5, "denied": 5}
        references.update(report.references)
    assert references == set(SignupAttempt.objects.values_list("reference", flat=True))
    assert len(references) == 20


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
