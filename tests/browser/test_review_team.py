"""A team working the review console in Debian chromium: the keyboard flow through a filtered
queue, a claim conflict between two reviewers (two browser contexts), an item given back to a
colleague, the CSV download,
a device block with its cascade and its reversal, and hostile input staying text. Screenshots:
var/screenshots/team_*.png."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from risk.models import Device, ReviewDecision, SignupAttempt
from tests.support.browser import save_screenshot
from tests.support.hostile import (
    HOSTILE_UA,
    HOSTILE_USERNAME,
)
from tests.support.review import PASSWORD, empty_cache, make_reviewer, signup  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
User = get_user_model()
QUEUE = "/admin/risk/signupattempt/"


def held(sandbox, **kw) -> SignupAttempt:
    _, attempt = signup(sandbox, "tor", **kw)
    assert attempt.review_status == "pending"
    return attempt


def login(context, live_server, username: str):
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def evidence_path(attempt) -> str:
    return f"{QUEUE}{attempt.pk}/change/"


def test_keyboard_flow_through_a_filtered_queue(browser, live_server, sandbox):
    team = [held(sandbox, email=f"t{i}@team.example") for i in range(3)]
    outsider = held(sandbox, email="x@elsewhere.example")
    make_reviewer("kim")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = login(context, live_server, "kim")

    page.goto(f"{live_server.url}{QUEUE}?domain=team.example")
    assert page.locator("#result_list tbody tr").count() == 3
    page.keyboard.press("j")  # first row highlighted
    assert "t0@" in page.locator("#result_list tr.rv-row-current").inner_text()
    save_screenshot(page, "team_queue_filtered")
    with page.expect_navigation():
        page.keyboard.press("o")
    assert evidence_path(team[0]) in page.url and "domain%3Dteam.example" in page.url

    page.keyboard.press("?")
    assert page.locator("#rv-keys-help").is_visible()
    save_screenshot(page, "team_keys_help")
    page.keyboard.press("Escape")
    assert not page.locator("#rv-keys-help").is_visible()

    with page.expect_navigation():
        page.keyboard.press("a")  # approve, default reason, and on to the next item
    assert evidence_path(team[1]) in page.url
    with page.expect_navigation():
        page.keyboard.press("r")
    assert evidence_path(team[2]) in page.url
    with page.expect_navigation():
        page.keyboard.press("u")  # back to the queue, filter kept
    assert page.url.endswith(f"{QUEUE}?domain=team.example")
    assert page.locator("#result_list tbody tr").count() == 1
    with page.expect_navigation():
        page.keyboard.press("j")
        page.keyboard.press("Enter")
    with page.expect_navigation():
        page.keyboard.press("r")
    # the selection is done: back on its queue, which is now empty
    assert page.url.endswith(f"{QUEUE}?domain=team.example")
    save_screenshot(page, "team_queue_done")

    statuses = {a.pk: a.review_status for a in SignupAttempt.objects.all()}
    assert [statuses[a.pk] for a in team] == ["approved", "rejected", "rejected"]
    assert statuses[outsider.pk] == "pending"  # never in the selection
    reasons = list(ReviewDecision.objects.order_by("pk").values_list("action", "reason"))
    assert reasons == [
        ("approve", "legitimate_user"),
        ("reject", "fake_identity"),
        ("reject", "fake_identity"),
    ]
    context.close()


@pytest.fixture
def two_reviewers():
    """`two_reviewers(browser, live_server)`: ann and ben signed in, each in a browser of
    their own (separate contexts: separate sessions)."""
    contexts = []

    def start(browser, live_server):
        pages = []
        for name in ("ann", "ben"):
            make_reviewer(name)
            contexts.append(browser.new_context(viewport={"width": 1440, "height": 900}))
            pages.append(login(contexts[-1], live_server, name))
        return pages

    yield start
    for context in contexts:
        context.close()


def test_claim_conflict_between_two_reviewers(browser, live_server, sandbox, two_reviewers):
    attempt = held(sandbox)
    ann, ben = two_reviewers(browser, live_server)

    ann.goto(f"{live_server.url}{evidence_path(attempt)}")
    with ann.expect_navigation():
        ann.keyboard.press("c")  # claim it
    assert ann.locator("#claim-mine").is_visible()

    ben.goto(f"{live_server.url}{QUEUE}")
    assert "taken by ann" in ben.locator("#result_list").inner_text()
    ben.goto(f"{live_server.url}{evidence_path(attempt)}")
    assert "ann is reviewing this attempt" in ben.locator("#claim-conflict").inner_text()
    save_screenshot(ben, "team_claim_conflict")
    with ben.expect_navigation():
        ben.keyboard.press("a")
    assert ben.locator("#decision-error").get_attribute("data-code") == "claimed_by_other"
    save_screenshot(ben, "team_claim_refused")
    attempt.refresh_from_db()
    assert attempt.review_status == "pending" and not ReviewDecision.objects.exists()

    with ann.expect_navigation():
        ann.keyboard.press("r")
    attempt.refresh_from_db()
    assert attempt.review_status == "rejected"
    assert ReviewDecision.objects.get().actor.username == "ann"


def test_a_reviewer_gives_an_item_back_to_a_colleague(browser, live_server, sandbox, two_reviewers):
    attempt = held(sandbox)
    ann, ben = two_reviewers(browser, live_server)

    ann.goto(f"{live_server.url}{evidence_path(attempt)}")
    with ann.expect_navigation():
        ann.click("#rv-claim")
    save_screenshot(ann, "team_claim_give_back")
    with ann.expect_navigation():
        ann.click("#rv-release")
    assert ann.url == f"{live_server.url}{QUEUE}"
    assert "given back" in ann.locator(".messagelist").inner_text()
    assert "taken by" not in ann.locator("#result_list").inner_text()

    ben.goto(f"{live_server.url}{evidence_path(attempt)}")
    with ben.expect_navigation():
        ben.click("#rv-claim")
    assert ben.locator("#claim-mine").is_visible()  # ben has it now, without waiting
    assert ben.locator("#claim-conflict").count() == 0


def test_csv_download_of_the_queue_selection(browser, live_server, sandbox, tmp_path):
    keep = [held(sandbox, email=f"k{i}@keep.example") for i in range(2)]
    held(sandbox, email="d@drop.example")
    make_reviewer("cal")
    context = browser.new_context(accept_downloads=True)
    page = login(context, live_server, "cal")
    page.goto(f"{live_server.url}{QUEUE}?domain=keep.example")
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename.startswith("review-queue-")
    path = tmp_path / "queue.csv"
    download.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [int(r["id"]) for r in rows] == [a.pk for a in keep]
    assert {r["email"] for r in rows} == {"k0@keep.example", "k1@keep.example"}
    save_screenshot(page, "team_queue_export")
    context.close()


def test_block_cascade_and_its_reversal(browser, live_server, sandbox, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 10
    _, active = signup(sandbox, "human", username="active_one")
    visitor = active.visitor_id
    first = held(sandbox, visitor_id=visitor)
    second = held(sandbox, visitor_id=visitor)
    make_reviewer("dee")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = login(context, live_server, "dee")
    page.on("dialog", lambda dialog: dialog.accept())  # "Block this device?"

    page.goto(f"{live_server.url}{evidence_path(first)}")
    with page.expect_navigation():
        page.keyboard.press("b")
    device = Device.objects.get(visitor_id=visitor)
    assert device.status == "blocked"
    assert {a.review_status for a in SignupAttempt.objects.filter(device=device)} == {
        "rejected",
        "",  # the allowed attempt keeps its (empty) review status; its account is deactivated
    }
    assert not User.objects.get(username="active_one").is_active
    block = ReviewDecision.objects.get(parent=None, action="block_device")
    assert sorted(block.effects.values_list("action", flat=True)) == [
        "block_deactivate",
        "block_reject",
        "block_reject",
    ]

    page.goto(f"{live_server.url}/admin/risk/device/{device.pk}/change/")
    save_screenshot(page, "team_device_blocked")
    page.select_option("#id_reason", "unblock_device:blocked_by_mistake")
    with page.expect_navigation():
        page.click("#decide input[type=submit].default")
    assert page.locator(".rv-head .rv-dev-normal").is_visible()
    save_screenshot(page, "team_device_unblocked")

    device.refresh_from_db()
    assert device.status == "normal"
    assert User.objects.get(username="active_one").is_active
    for attempt in (first, second):
        attempt.refresh_from_db()
        assert attempt.review_status == "pending"  # back in the queue
        assert not User.objects.get(pk=attempt.account_id).is_active
    assert ReviewDecision.objects.filter(action="unblock_restore").count() == 3
    context.close()


def test_staff_login_lockout(browser, live_server, settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_reviewer("eve")
    context = browser.new_context()
    page = context.new_page()
    for attempt in range(3):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "eve")
        page.fill("#id_password", f"guess-{attempt}")
        page.click("input[type=submit]")
    assert page.locator("#lockout").is_visible()
    save_screenshot(page, "team_login_lockout")
    # the right password no longer helps from this address
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "eve")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    assert page.locator("#lockout").is_visible()
    assert "/admin/login/" in page.url
    context.close()


def test_hostile_values_stay_text_in_the_browser(browser, live_server, hostile):
    """What the server escapes must not turn into markup through the console's own scripts
    either: no dialog opens on any page a reviewer sees, and the values read as text."""
    make_reviewer("hal")
    context = browser.new_context()
    page = login(context, live_server, "hal")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    paths = {
        "queue": QUEUE,
        "search": f"{QUEUE}?q={hostile.reference}",
        "evidence": evidence_path(hostile),
        "device": f"/admin/risk/device/{hostile.device_id}/change/",
        "dashboard": "/admin/",
    }
    for name, path in paths.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        if name != "dashboard":
            assert HOSTILE_USERNAME in page.inner_text("body"), name
    page.goto(f"{live_server.url}{evidence_path(hostile)}")
    assert HOSTILE_UA in page.inner_text("body")
    page.keyboard.press("?")  # the shortcuts help: another script-built piece of the page
    page.wait_for_timeout(200)
    assert dialogs == []
    save_screenshot(page, "team_hostile_input")
    context.close()
