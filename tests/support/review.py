"""Shared helpers of the review console tests: real signups through the API and the sandbox."""

from __future__ import annotations

import importlib
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from rest_framework.test import APIClient

from risk.models import SignupAttempt

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
