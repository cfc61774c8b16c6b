"""The review console in a real browser (Debian chromium), with demo data made through the real
signup API (over HTTP to the live server) against the sandbox; screenshots land in
var/screenshots/ for people to look at."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth import get_user_model

from risk.models import Device, ReviewDecision, SignupAttempt
from risk.services.review import review_decide
from tests.support.browser import login, save_screenshot
from tests.support.review import PASSWORD, empty_cache, make_reviewer  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (username, profile, visitor shared with) in signup order: humans, a VPN, bots, tampering,
# and a phone farm: one emulator signing up again and again.
DEMO = [
    ("olivia", "human", None),
    ("noah", "human", None),
    ("liam.vpn", "vpn", None),
    ("ghost2", "tor", None),
    ("crawler", "good_bot", None),
    ("h3adless01", "bad_bot", None),
    ("h3adless02", "bad_bot", None),
    ("emma", "incognito", None),
    ("ghost", "tor", None),
    ("antidetect7", "tampering", None),
    ("sofia.m", "ios", None),
    ("farm_0001", "farm", None),
    ("farm_0002", "farm", "farm_0001"),
    ("farm_0003", "farm", "farm_0001"),
    ("farm_0004", "farm", "farm_0001"),
    ("farm_0005", "farm", "farm_0001"),
    ("olivia.alt", "human", "olivia"),
    ("mia.vpn", "vpn", None),
    ("kiosk_user", "good_bot", None),
]


def home_ip(index: int) -> str:
    return f"73.45.{index}.{index + 10}"


def seed_demo(live_server, sandbox) -> dict[str, SignupAttempt]:
    """Each person signs up from their own home address (forwarded by a trusted proxy); the
    accounts that share a device share its address."""
    visitors: dict[str, str] = {}
    ips: dict[str, str] = {}
    attempts = {}
    session = requests.Session()
    for index, (username, profile, shared) in enumerate(DEMO):
        ips[username] = ips[shared] if shared else home_ip(index)
        fields = {"ip": ips[username]}
        if shared:
            fields["visitor_id"] = visitors[shared]
        event = sandbox.create_event(profile=profile, **fields)
        visitors[username] = event["identification"]["visitor_id"]
        response = session.post(
            f"{live_server.url}/api/signup",
            headers={"X-Forwarded-For": ips[username]},
            json={
                "event_id": event["event_id"],
                "username": username,
                "password": PASSWORD,
                "email": f"{username.replace('.', '_')}@example.com",
            },
            timeout=30,
        )
        assert response.status_code in (201, 403), response.text
        attempts[username] = SignupAttempt.objects.get(reference=response.json()["reference"])
    return attempts


def test_review_console_pages(browser, live_server, sandbox, settings):
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    attempts = seed_demo(live_server, sandbox)
    reviewer = make_reviewer("rita")
    review_decide(
        actor=reviewer,
        action="approve",
        reason="legitimate_user",
        note="Tor user, confirmed by email.",
        attempt=attempts["ghost2"],
    )
    # a family computer: trusted, so a further account on it is allowed outright
    family = Device.objects.get(visitor_id=attempts["olivia"].visitor_id)
    review_decide(actor=reviewer, action="trust_device", reason="shared_device", device=family)
    olivia_ip = attempts["olivia"].client_ip
    event = sandbox.create_event(profile="human", ip=olivia_ip, visitor_id=family.visitor_id)
    response = requests.post(
        f"{live_server.url}/api/signup",
        headers={"X-Forwarded-For": olivia_ip},
        json={"event_id": event["event_id"], "username": "olivia.kid", "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    farm = Device.objects.get(visitor_id=attempts["farm_0001"].visitor_id)
    assert farm.attempt_count == 5

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    login(page, live_server, "rita")

    # dashboard on the admin index
    assert page.locator("#review-dashboard").is_visible()
    assert page.locator("#top-reasons .rv-bar-row").count() >= 3
    assert family.visitor_id[:10] in page.locator("#clusters").inner_text()  # 2 accounts
    save_screenshot(page, "review_dashboard")

    # the queue opens on pending items, oldest first (the newest signup is the last row)
    page.goto(f"{live_server.url}/admin/risk/signupattempt/")
    rows = page.locator("#result_list tbody tr")
    pending = SignupAttempt.objects.filter(review_status="pending").count()
    assert rows.count() == pending > 0
    assert "kiosk_user" in rows.last.inner_text()
    save_screenshot(page, "review_queue")
    page.goto(f"{live_server.url}/admin/risk/signupattempt/?status=all")
    assert page.locator("#result_list tbody tr").count() == len(DEMO) + 1
    save_screenshot(page, "review_queue_all")
    # At 1400 px every column shows (nothing scrolled out of the table's box), and a row's
    # time is one line.
    fits = page.evaluate(
        "() => { const box = document.querySelector('.results');"
        " return box.scrollWidth <= box.clientWidth; }"
    )
    widths = page.evaluate(
        "() => [...document.querySelectorAll('#result_list thead th')].map("
        "th => th.className + ':' + th.getBoundingClientRect().width)"
        " .concat([document.querySelector('.results').scrollWidth,"
        " document.querySelector('.results').clientWidth])"
    )
    assert fits, f"the queue's columns overflow at 1400 px: {widths}"
    time_cell = page.locator("#result_list tbody .field-when").first
    line = page.evaluate("() => parseFloat(getComputedStyle(document.body).lineHeight) || 20")
    assert time_cell.locator("time").bounding_box()["height"] <= line * 1.5

    # the evidence page of a held signup, then "save and next" with a reason code
    page.goto(f"{live_server.url}/admin/risk/signupattempt/{attempts['kiosk_user'].pk}/change/")
    assert "good bot" in page.locator("#signals").inner_text()
    save_screenshot(page, "review_evidence")
    page.select_option("#id_reason", "approve:shared_device")
    page.fill("#id_note", "Library kiosk; staff confirmed.")
    with page.expect_navigation():
        page.click("input[type=submit][name=_next]")
    # kiosk_user was the newest pending item: "save and next" ends the selection
    assert page.url.endswith("/admin/risk/signupattempt/")
    assert "last item of this selection" in page.locator(".messagelist").inner_text()
    assert ReviewDecision.objects.filter(action="approve", reason="shared_device").count() == 1
    assert get_user_model().objects.get(username="kiosk_user").is_active

    # the evidence page of a farm signup: the cluster and the DRN panel (when looked up)
    page.goto(f"{live_server.url}/admin/risk/signupattempt/{attempts['farm_0004'].pk}/change/")
    assert page.locator("#cluster tbody tr").count() == 5
    save_screenshot(page, "review_evidence_farm")

    # the device cluster: timeline, then block it
    page.goto(f"{live_server.url}/admin/risk/device/{farm.pk}/change/")
    assert page.locator("#timeline li").count() >= 5
    page.select_option("#id_reason", "block_device:account_farm")
    page.fill("#id_note", "Emulator farm: five signups in a minute.")
    with page.expect_navigation():
        page.click("#decide input[type=submit].default")
    assert page.locator(".rv-head .rv-dev-blocked").is_visible()
    save_screenshot(page, "review_cluster")

    page.goto(f"{live_server.url}/admin/risk/device/")
    assert farm.visitor_id in page.locator("#result_list tbody tr").first.inner_text()
    save_screenshot(page, "review_cluster_ranking")
    page.close()
