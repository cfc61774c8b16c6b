"""manage.py verify_signups: signups accepted while Fingerprint was down (made through the real
API, the sandbox over HTTP) decided by the live rules, with what is left said."""

import io

import pytest
from django.core.management import call_command

from risk.models import SignupAttempt
from tests.support.outage import outage_signups

pytestmark = pytest.mark.django_db


def run(**options) -> tuple[dict[str, int], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_signups", stdout=out, stderr=err, **options)
    lines = dict(line.split() for line in out.getvalue().splitlines())
    return {name: int(n) for name, n in lines.items()}, err.getvalue()


def test_it_decides_up_to_its_limit_and_says_how_many_are_left(sandbox, settings):
    outage_signups(sandbox, settings, 3)
    counts, err = run(limit=2)
    assert counts == {"allow": 2, "left": 1} and err == ""
    counts, _ = run()
    assert counts == {"allow": 1, "left": 0}
    assert set(SignupAttempt.objects.values_list("decision", flat=True)) == {"allow"}
    assert run() == ({"left": 0}, "")


def test_fingerprint_still_down_is_said_on_stderr_and_nothing_is_decided(sandbox, settings):
    outage_signups(sandbox, settings, 2)
    sandbox.set_faults(target="events", status=503)
    counts, err = run()
    assert counts == {"unavailable": 1, "left": 2}
    assert "still unavailable" in err
    assert set(SignupAttempt.objects.values_list("decision", flat=True)) == {"unverified"}
