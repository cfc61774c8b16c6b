"""The backtest page in a real browser (Debian chromium): try a threshold on a stored history,
apply it, revert it, and follow a run's progress bar while workers score it. Screenshots land
in var/screenshots/backtest_*.png."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from risk.models import ThresholdChange, ThresholdSetting
from risk.services import backtest
from tests.support.backtest import known_history, stored_attempt
from tests.support.browser import login, save_screenshot
from tests.support.review import PASSWORD, empty_cache  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCORE = "#id_RISK_SUSPECT_SCORE_REVIEW"


@pytest.fixture
def page(browser):
    """A page closed before the test's database goes (a polling page would outlive it)."""
    opened = browser.new_page(viewport={"width": 1400, "height": 900})
    yield opened
    opened.close()


def test_backtest_apply_and_revert_in_the_browser(page, live_server):
    known_history()
    for _ in range(4):
        stored_attempt(score=14, review_status="approved")
    get_user_model().objects.create_superuser("boss", password=PASSWORD)
    login(page, live_server, "boss")

    page.click("#backtest-link")  # from the dashboard
    assert page.input_value(SCORE) == "10"
    page.fill(SCORE, "ten")
    page.click("#backtest-run")
    assert "invalid literal" in page.locator("#row-RISK_SUSPECT_SCORE_REVIEW").inner_text()

    page.fill(SCORE, "20")
    page.select_option("#id_window", "30")
    page.click("#backtest-run")
    page.wait_for_selector("#run-status:has-text('done')")
    assert page.locator("#moved").inner_text() == "8"
    assert "review->allow" in page.locator("#moves").inner_text()
    people_held = page.locator("#labelled-people_held td").all_inner_texts()
    assert people_held[1:3] == ["7", "1"]  # now, proposed
    assert page.locator("#sample a").count() == backtest.SAMPLE_PER_MOVE
    save_screenshot(page, "backtest_result")

    page.click("#apply-link")
    page.fill("#id_note", "reviewers approve nearly every score 12-19 hold")
    save_screenshot(page, "backtest_apply")
    page.click("#apply-confirm")
    page.wait_for_selector(".messagelist .success")
    assert ThresholdSetting.objects.get().value == 20
    assert page.input_value(SCORE) == "20"  # now the value in force
    assert "reviewers approve" in page.locator("#threshold-changes").inner_text()
    save_screenshot(page, "backtest_applied")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#revert-last")
    page.wait_for_selector(".messagelist .success")
    assert not ThresholdSetting.objects.exists()
    assert ThresholdChange.objects.filter(action="reverted").count() == 1
    assert page.input_value(SCORE) == "10"


def test_the_progress_bar_follows_the_workers_until_the_figures_show(
    page, live_server, monkeypatch
):
    known_history()
    get_user_model().objects.create_superuser("boss", password=PASSWORD)
    # Workers are this test: the chunks are handed over and scored below, one at a time.
    monkeypatch.setattr(backtest.background, "tasks_run_inline", lambda: False)
    monkeypatch.setattr(backtest.background, "enqueue", lambda *args, **kwargs: True)
    monkeypatch.setattr(backtest, "CHUNK", 3)
    login(page, live_server, "boss")
    page.goto(f"{live_server.url}/admin/risk/thresholdchange/backtest/")
    page.fill(SCORE, "20")
    page.click("#backtest-run")
    page.wait_for_selector("#backtest-progress")
    assert page.locator("#run-status").text_content() == "running"
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    chunks = backtest.backtest_get(run_id=run_id)
    total = chunks.total
    assert page.locator("#backtest-done").inner_text() == "0"

    backtest.backtest_chunk_run(run_id=run_id, chunk=0)
    page.wait_for_function("document.getElementById('backtest-done').textContent !== '0'")
    assert 0 < int(page.locator("#backtest-done").inner_text()) < total
    save_screenshot(page, "backtest_progress")

    chunk = 1
    while backtest.backtest_get(run_id=run_id).status == "running":
        backtest.backtest_chunk_run(run_id=run_id, chunk=chunk)
        chunk += 1
    page.wait_for_selector("#run-status:has-text('done')")  # the page reloaded itself
    assert page.locator("#moved").inner_text() == "4"
