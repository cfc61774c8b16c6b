"""Shared helpers of the review console tests: real signups through the API and the sandbox."""

from __future__ import annotations

import importlib
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from risk.models import Device, DrnSnapshot, FingerprintEvent, SignupAttempt

PASSWORD = "correct-horse-battery-9"
_names = itertools.count(1)


_homes = itertools.count(1)
_home_of: dict[str, str] = {}


def home_ip(visitor_id: str | None = None) -> str:
    """Each device signs up from its own home address (as many people do), so a test's
    signups do not look like a crowd of new devices behind one IP; a device keeps its address."""
    if visitor_id and visitor_id in _home_of:
        return _home_of[visitor_id]
    n = next(_homes)
    return f"73.45.{n // 250}.{n % 250 + 1}"


def signup(
    sandbox,
    profile: str = "human",
    *,
    visitor_id: str | None = None,
    country: str = "",
    asn: str = "",
    **extra,
):
    """Create a sandbox event and POST /api/signup with it; returns (response, attempt)."""
    ip = extra.pop("ip", None) or home_ip(visitor_id)
    fields = {"ip": ip}
    if visitor_id:
        fields["visitor_id"] = visitor_id
    if country or asn:
        block = {"geolocation": {"country_code": country}} if country else {}
        if asn:
            block["asn_name"] = asn
        fields["overrides"] = {"ip_info": {"v4": block}}
    event = sandbox.create_event(profile=profile, **fields)
    _home_of[event["identification"]["visitor_id"]] = ip
    username = extra.pop("username", f"user{next(_names)}")
    response = APIClient(REMOTE_ADDR=ip).post(
        "/api/signup",
        {"event_id": event["event_id"], "username": username, "password": PASSWORD, **extra},
        format="json",
    )
    assert response.status_code in (201, 403), response.content
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    return response, attempt


def reviewer_group() -> Group:
    """The migration's "Reviewer" group. Transactional tests flush the database when they end,
    data migrations included; then rebuild the group from the migration's own model list."""
    group = Group.objects.filter(name="Reviewer").first()
    if group is not None:
        return group
    migration = importlib.import_module("risk.migrations.0004_reviewer_group")
    group = Group.objects.create(name="Reviewer")
    for app_label, models in migration.VIEW_MODELS.items():
        codenames = [f"view_{model}" for model in models]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
    group.permissions.add(Permission.objects.get(codename="record_decision"))
    return group


def make_reviewer(username: str = "reviewer"):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(reviewer_group())
    return user


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts with an empty cache (the dashboard caches its figures)."""
    cache.clear()


# The review console's logins and data sets; tests/risk/admin/conftest.py offers them to its tests.
@pytest.fixture
def reviewer():
    return make_reviewer()


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


@pytest.fixture
def alice():
    return make_reviewer("alice")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def boss(django_user_model):
    """A superuser: may run backtests and edit thresholds."""
    return django_user_model.objects.create_superuser("boss", password=PASSWORD)


@pytest.fixture
def boss_client(client, boss):
    client.force_login(boss)
    return client


def held(sandbox, **kw):
    """A Tor signup through the API, held for review."""
    _, attempt = signup(sandbox, "tor", **kw)
    assert attempt.review_status == "pending"
    return attempt


@pytest.fixture
def demo(sandbox):
    """A held Tor signup, a bot denial and a household's held second account, all via the API."""
    _, held = signup(sandbox, "tor", username="vpnuser", email="vpn@example.com")
    _, bot = signup(sandbox, "bad_bot", username="botuser")
    _, first = signup(sandbox, "human", username="alice")
    _, dup = signup(sandbox, "human", visitor_id=first.visitor_id, username="alice2")
    return {"held": held, "bot": bot, "first": first, "dup": dup}


@pytest.fixture
def mixed(sandbox):
    """One signup of each profile the queue's filters tell apart, keyed by profile nickname."""
    rows = {}
    for name, profile in [
        ("vpn", "vpn"),
        ("bot", "bad_bot"),
        ("tamper", "tampering"),
        ("phone", "android"),
        ("human", "human"),
    ]:
        _, rows[name] = signup(sandbox, profile, username=f"m_{name}", email=f"{name}@example.com")
    return rows


def fabricate(count: int, *, prefix: str = "bulk") -> list[SignupAttempt]:
    """Pending attempts with device, snapshot and DRN rows (ORM: only query counts matter)."""
    devices = Device.objects.bulk_create(
        [Device(visitor_id=f"{prefix}{i:015d}", platform="js") for i in range(count)]
    )
    events = FingerprintEvent.objects.bulk_create(
        [
            FingerprintEvent(
                event_id=f"{prefix}-ev-{i}",
                visitor_id=d.visitor_id,
                device=d,
                bot="not_detected",
                suspect_score=i % 25,
                raw={"event_id": f"{prefix}-ev-{i}"},
            )
            for i, d in enumerate(devices)
        ]
    )
    drns = DrnSnapshot.objects.bulk_create(
        [
            DrnSnapshot(device=d, visitor_id=d.visitor_id, status="ok", max_percentile=0.9)
            for d in devices
        ]
    )
    return SignupAttempt.objects.bulk_create(
        [
            SignupAttempt(
                username=f"{prefix}{i}",
                event_id=e.event_id,
                fingerprint_event=e,
                device=d,
                drn_snapshot=s,
                visitor_id=d.visitor_id,
                decision="review",
                reasons=["vpn"],
                review_status="pending",
            )
            for i, (d, e, s) in enumerate(zip(devices, events, drns, strict=True))
        ]
    )
