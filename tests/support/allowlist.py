"""Allowlist entries added as the console adds them, and signups from the lab's address behind
one trusted proxy."""

import pytest
from rest_framework.test import APIClient

from risk.models import AllowlistEntry
from risk.services import allowlist
from tests.support.review import PASSWORD

LAB_IP = "91.64.10.20"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    allowlist._forget()


def add(kind: str, value: str, **fields) -> AllowlistEntry:
    entry = AllowlistEntry(kind=kind, value=value, note=fields.pop("note", "QA lab"), **fields)
    return allowlist.allowlist_entry_save(entry=entry, actor=None, adding=True)


def sign_up(sandbox, username, *, ip=LAB_IP, profile="human", email="", **fields):
    event = sandbox.create_event(profile, ip=ip, **fields)
    client = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ip)
    body = {"event_id": event["event_id"], "username": username, "password": PASSWORD}
    if email:
        body["email"] = email
    response = client.post("/api/signup", body, format="json")
    return response.status_code, event["identification"]["visitor_id"]
