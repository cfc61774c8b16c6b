"""fpdjango/settings.py: every setting read from the environment, and nothing else."""

import os
import subprocess
import sys
from pathlib import Path

from fpdjango import settings as project_settings
from risk.conf import SETTINGS
from tests.support import ROOT


def test_the_reference_project_reads_every_setting_from_the_environment():
    """fpdjango/settings.py names each setting of the table (README documents them as
    environment variables), and leaves it unset (None) when the environment does not. An
    empty variable stays empty ("off" for a rate or a list), not unset: django-environ's
    `env.str(..., default=None)` would turn it into None."""
    source = Path(project_settings.__file__).read_text()
    for setting in SETTINGS:
        if setting.name.startswith("RISK_REDIS"):
            continue  # from REDIS_URL and REDIS_KEY_PREFIX
        assert f'{setting.name} = os.environ.get("{setting.name}")' in source, setting.name


def test_an_empty_environment_variable_turns_a_throttle_off():
    """bin/run exports SIGNUP_THROTTLE_RATE= for the demo traffic: off, not the default."""
    probe = "from risk.conf import risk_settings as s; print(repr(s().throttle_rate))"
    env = {**os.environ, "DJANGO_DEBUG": "1", "SIGNUP_THROTTLE_RATE": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip().splitlines()[-1] == "''"
    env.pop("SIGNUP_THROTTLE_RATE")
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip().splitlines()[-1] == "'300/hour'"
