"""risk/templatetags/review.py: durations and shares as the review console shows them."""

from datetime import timedelta

import pytest
from django.template import Context, Template

from risk.templatetags.review import ticks


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (None, "\u2013"),
        (timedelta(seconds=-5), "0 s"),  # a clock a little ahead never shows a negative wait
        (timedelta(seconds=40), "40 s"),
        (timedelta(minutes=7, seconds=59), "7 min"),
        (timedelta(hours=5, minutes=12), "5 h 12 min"),
        (timedelta(days=3, hours=4, minutes=30), "3 d 4 h"),
    ],
)
def test_duration(delta, words):
    rendered = Template("{% load review %}{{ delta|duration }}").render(Context({"delta": delta}))
    assert rendered == words


@pytest.mark.parametrize(
    ("share", "text"), [(None, "\u2013"), (0, "0%"), (1 / 3, "33%"), (1, "100%")]
)
def test_percent(share, text):
    rendered = Template("{% load review %}{{ share|percent }}").render(Context({"share": share}))
    assert rendered == text


def test_ticks_shows_the_settings_tables_code_as_code_and_escapes_the_rest():
    assert ticks("denied (`velocity_ips`; 0 = off) <b>") == (
        "denied (<code>velocity_ips</code>; 0 = off) &lt;b&gt;"
    )
