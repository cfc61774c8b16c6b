"""The checkout installs as a reusable app: `pip wheel .` builds a wheel holding `risk` and
`sandbox` with their templates, static files and migrations and nothing that would collide with
a host project (no `fpdjango`, no `accounts`), and pyproject's dependencies and extras match
requirements.txt's pins."""

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.checkout import checkout_copy

ROOT = Path(__file__).resolve().parent.parent
APPS = ("risk", "sandbox")
# The reference project: runs from the checkout, never installed.
PROJECT_ONLY = ("fpdjango", "accounts")


def _pins(block: int) -> dict[str, str]:
    """name -> pinned version in one blank-line-separated block of requirements.txt."""
    text = ROOT.joinpath("requirements.txt").read_text().split("\n\n")[block]
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[req.name.lower()] = next(iter(req.specifier)).version
    return pins


def _project() -> dict:
    return tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())["project"]


def test_pyproject_dependencies_are_the_pinned_first_block():
    declared = {Requirement(d).name.lower(): Requirement(d) for d in _project()["dependencies"]}
    pins = _pins(0)
    assert set(declared) == set(pins)
    for name, version in pins.items():
        assert declared[name].specifier.contains(version), (name, version)


def test_extras_are_the_pinned_second_block_and_the_server_parts_are_not_required():
    extras = _project()["optional-dependencies"]
    declared = {}
    for reqs in extras.values():
        for line in reqs:
            req = Requirement(line)
            declared.setdefault(req.name.lower(), []).append(req)
    pins = _pins(1)
    assert set(declared) == set(pins)
    for name, version in pins.items():
        assert all(r.specifier.contains(version) for r in declared[name]), (name, version)
    assert {"celery", "redis", "prometheus", "otp", "allauth", "sandbox"} <= set(extras)
    required = {Requirement(d).name.lower() for d in _project()["dependencies"]}
    for server_part in ("gunicorn", "celery", "redis", "psycopg", "django-environ"):
        assert server_part not in required


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = checkout_copy(tmp_path_factory.mktemp("clone"))
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the pinned setuptools of requirements-dev.txt, no network needed.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", "-w", str(out)],
        cwd=src, check=True, capture_output=True,
    )  # fmt: skip
    (path,) = out.glob("fpdjango-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_holds_the_apps_and_nothing_that_collides_with_a_host(wheel):
    names = set(wheel.namelist())
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == set(APPS)
    for app in APPS:
        for path in (ROOT / app).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                assert path.relative_to(ROOT).as_posix() in names
    assert "risk/templates/risk/review/base.html" in names
    assert "risk/templatetags/fingerprint.py" in names
    assert "sandbox/static/agent.js" in names
    assert not any(n.startswith(tuple(f"{p}/" for p in PROJECT_ONLY)) for n in names)
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: Django" in metadata


def test_templates_live_in_their_app():
    # BASE_DIR/templates would not be in the wheel: an app's templates go in <app>/templates.
    stray = [p for p in (ROOT / "templates").rglob("*") if p.is_file()]
    assert not stray, f"move into risk/templates or accounts/templates: {stray}"


HOST_SETTINGS = """
SECRET_KEY = "a host's own key, long enough for the checks" * 2
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "rest_framework", "risk", "sandbox",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}]
STATIC_URL = "static/"
"""


def test_the_installed_wheel_finds_its_templates_and_static_files(wheel, tmp_path):
    """Unpacked on its own (the repository off sys.path) into a host with none of the reference
    project's settings, Django loads the apps' templates, tag library and static files."""
    site = tmp_path / "site"
    wheel.extractall(site)
    (tmp_path / "host_settings.py").write_text(HOST_SETTINGS)
    probe = (
        "import django; django.setup()\n"
        "from django.template import engines\n"
        "from django.template.loader import get_template\n"
        "from django.contrib.staticfiles import finders\n"
        "import risk\n"
        "print(risk.__file__)\n"
        "for name in ('risk/review/base.html', 'admin/risk/pagination.html',\n"
        "             'risk/fingerprint/agent.html'):\n"
        "    print(get_template(name).origin.name)\n"
        "print(finders.find('risk/fingerprint-agent.js'))\n"
        "engines['django'].from_string('{% load fingerprint %}')\n"
        "import fpdjango\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{tmp_path}"}
    env["DJANGO_SETTINGS_MODULE"] = "host_settings"
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-P", "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    # Everything loaded from the wheel; the reference project is not in it.
    assert "No module named 'fpdjango'" in out.stderr, out.stderr
    paths = out.stdout.split()
    assert len(paths) == 5 and all(p.startswith(str(site)) for p in paths), out.stdout
