"""risk/services/allowlist.py: entries normalised, and the allowlist through the real signup path
(sandbox over HTTP, real database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from risk.models import AllowlistEntry, AllowlistKind, SignupAttempt
from risk.services import allowlist
from tests.support.allowlist import add, behind_one_proxy, sign_up  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        (AllowlistKind.NETWORK, "91.64.10.0/24", "91.64.10.0/24"),
        (AllowlistKind.NETWORK, "91.64.10.20", "91.64.10.20/32"),
        (AllowlistKind.NETWORK, "2001:db8::1/64", "2001:db8::/64"),
        (AllowlistKind.ASN, "as3320", "3320"),
        (AllowlistKind.EMAIL_DOMAIN, "QA.Example.com", "qa.example.com"),
        (AllowlistKind.EMAIL_DOMAIN, "tester@qa.example.com", "qa.example.com"),
        (AllowlistKind.DEVICE, "Abc123def456", "Abc123def456"),
    ],
)
def test_values_are_normalised(kind, given, stored):
    assert allowlist.entry_value_normalise(kind, given) == stored


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        (AllowlistKind.NETWORK, "91.64.10.0/33"),
        (AllowlistKind.ASN, "Comcast"),
        (AllowlistKind.EMAIL_DOMAIN, "localhost"),
        (AllowlistKind.DEVICE, "<script>"),
        (AllowlistKind.NETWORK, ""),
    ],
)
def test_bad_values_are_refused(kind, given):
    with pytest.raises(ValueError):
        allowlist.entry_value_normalise(kind, given)


def test_a_lab_range_lifts_the_device_limit_and_throttles_not_the_bot_rules(sandbox, settings):
    settings.SIGNUP_THROTTLE_RATE = "2/hour"
    settings.SIGNUP_THROTTLE_VISITOR_RATE = "2/hour"
    add(AllowlistKind.NETWORK, "91.64.10.0/24")
    status, kiosk = sign_up(sandbox, "tester0")
    assert status == 201
    # One kiosk, many accounts, past both throttles and the hard device limit.
    statuses = [sign_up(sandbox, f"tester{i}", visitor_id=kiosk)[0] for i in range(1, 12)]
    assert statuses == [201] * 11
    attempt = SignupAttempt.objects.get(username="tester11")
    assert attempt.decision == "allow"
    assert attempt.facts["allowlist_entry"].endswith("91.64.10.0/24: QA lab")
    # The event's own signals still decide.
    assert sign_up(sandbox, "labbot", profile="bad_bot")[0] == 403
    assert "bot_bad" in SignupAttempt.objects.get(username="labbot").reasons
    # Outside the range the same kiosk pattern is throttled.
    outside = "91.64.99.1"
    assert [sign_up(sandbox, f"out{i}", ip=outside)[0] for i in range(3)] == [201, 201, 429]


def test_email_domain_asn_and_device_entries(sandbox):
    add(AllowlistKind.EMAIL_DOMAIN, "qa.example.com")
    status, device = sign_up(sandbox, "user_a1", ip="73.45.1.1", email="a1@qa.example.com")
    assert status == 201
    second = sign_up(
        sandbox, "user_a2", ip="73.45.1.1", email="a2@x.qa.example.com", visitor_id=device
    )
    assert second[0] == 201
    assert SignupAttempt.objects.get(username="user_a2").decision == "allow"
    third = sign_up(sandbox, "user_a3", ip="73.45.1.1", email="a3@example.com", visitor_id=device)
    assert SignupAttempt.objects.get(username="user_a3").decision == "review"  # not covered
    assert third[0] == 201

    add(AllowlistKind.DEVICE, device, note="kiosk 7")
    sign_up(sandbox, "user_a4", ip="73.45.1.1", visitor_id=device)
    kiosk = SignupAttempt.objects.get(username="user_a4")
    assert kiosk.facts["allowlist_entry"].endswith("kiosk 7")

    add(AllowlistKind.ASN, "AS3320", note="partner office")  # DTAG: the sandbox's 91.64.x
    _, office = sign_up(sandbox, "user_b1", ip="91.64.50.1")
    sign_up(sandbox, "user_b2", ip="91.64.50.1", visitor_id=office)
    assert SignupAttempt.objects.get(username="user_b2").decision == "allow"


def test_an_expired_entry_covers_nothing(sandbox):
    entry = add(AllowlistKind.NETWORK, "91.64.10.0/24")
    AllowlistEntry.objects.filter(pk=entry.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    allowlist._forget()
    _, kiosk = sign_up(sandbox, "user_t0")
    sign_up(sandbox, "user_t1", visitor_id=kiosk)
    attempt = SignupAttempt.objects.get(username="user_t1")
    assert attempt.decision == "review" and "allowlist_entry" not in attempt.facts
