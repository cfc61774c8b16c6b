"""The project installs: `pip wheel .` builds a wheel holding every app with its templates,
static files and migrations, and pyproject's dependencies match requirements.txt's pins."""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
APPS = ("fpdjango", "risk", "accounts", "sandbox")


def _pinned_direct_requirements() -> dict[str, str]:
    """name -> pinned version of requirements.txt's first block (the direct dependencies)."""
    block = ROOT.joinpath("requirements.txt").read_text().split("\n\n")[0]
    pins = {}
    for line in block.splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[req.name.lower()] = next(iter(req.specifier)).version
    return pins


def test_pyproject_dependencies_are_the_pinned_direct_requirements():
    project = tomllib.loads(ROOT.joinpath("pyproject.toml").read_text())["project"]
    declared = {Requirement(d).name.lower(): Requirement(d) for d in project["dependencies"]}
    pins = _pinned_direct_requirements()
    assert set(declared) == set(pins)
    for name, version in pins.items():
        assert declared[name].specifier.contains(version), (name, version)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # A clean checkout: only the files git tracks or would track (no build leftovers, no .venv).
    src = tmp_path_factory.mktemp("clone")
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the pinned setuptools of requirements-dev.txt, no network needed.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", "-w", str(out)],
        cwd=src, check=True, capture_output=True,
    )  # fmt: skip
    (path,) = out.glob("fpdjango-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_holds_every_app_module_template_and_static_file(wheel):
    names = set(wheel.namelist())
    for app in APPS:
        for path in (ROOT / app).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                assert path.relative_to(ROOT).as_posix() in names
    assert "accounts/templates/signup.html" in names
    assert "risk/templates/risk/review/base.html" in names
    assert "sandbox/static/agent.js" in names
    assert not any(n.startswith(("tests/", "bench/", "docs/")) for n in names)
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: Django" in metadata


def test_templates_live_in_their_app():
    # BASE_DIR/templates would not be in the wheel: an app's templates go in <app>/templates.
    stray = [p for p in (ROOT / "templates").rglob("*") if p.is_file()]
    assert not stray, f"move into risk/templates or accounts/templates: {stray}"


def test_the_installed_wheel_finds_its_templates_and_static_files(wheel, tmp_path):
    """Unpacked on its own (the repository off sys.path), Django loads every app's files."""
    site = tmp_path / "site"
    wheel.extractall(site)
    probe = (
        "import django; django.setup()\n"
        "from django.template.loader import get_template\n"
        "from django.contrib.staticfiles import finders\n"
        "import risk\n"
        "print(risk.__file__)\n"
        "for name in ('signup.html', 'risk/review/base.html', 'admin/risk/pagination.html'):\n"
        "    print(get_template(name).origin.name)\n"
        "print(finders.find('accounts/signup.js'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env["DJANGO_SETTINGS_MODULE"] = "fpdjango.test_settings"
    out = subprocess.run(
        [sys.executable, "-P", "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    paths = out.stdout.split()
    assert len(paths) == 5 and all(p.startswith(str(site)) for p in paths), out.stdout
