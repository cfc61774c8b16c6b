"""risk/management/job_output.py: a job's coded error or Ctrl-C becomes a CommandError (a
non-zero exit without a traceback), and the summary is aligned."""

import io

import pytest
from django.core.management.base import CommandError, OutputWrapper

from risk.management.job_output import RESUME, job_errors, summary_write
from risk.services.jobs import BackfillError


def test_a_coded_error_keeps_its_code():
    with pytest.raises(CommandError, match=r"^invalid_range: since is after until$"), job_errors():
        raise BackfillError("invalid_range", "since is after until")


def test_ctrl_c_says_how_to_resume():
    with pytest.raises(CommandError, match=f"^interrupted: {RESUME}$"), job_errors():
        raise KeyboardInterrupt
    with (
        pytest.raises(CommandError, match=r"^interrupted: run it again$"),
        job_errors(resume="run it again"),
    ):
        raise KeyboardInterrupt


def test_anything_else_is_left_alone():
    with pytest.raises(ZeroDivisionError), job_errors():
        1 / 0  # noqa: B018


def test_the_summary_is_one_aligned_line_per_outcome():
    out = io.StringIO()
    summary_write(OutputWrapper(out), "rescore", {"changed": 3, "unchanged_for_long": 12345})
    title, changed, unchanged = out.getvalue().splitlines()
    assert title == "rescore: summary"
    assert changed.split() == ["changed", "3"] and unchanged.split() == [
        "unchanged_for_long",
        "12345",
    ]
    assert changed.startswith("  changed ") and len(changed) == len(unchanged)  # counts aligned
