"""Tests mirror the code. The rule (README.md, "Layout"):

1. A module `<app>/<path>/<module>.py` of risk, accounts, sandbox or fpdjango is tested in
   `tests/<app>/<path>/test_<module>.py`, and in `test_<module>_<topic>.py` beside it when a topic
   deserves a file of its own (`tests/risk/services/test_review_safety.py`). A test file belongs
   to the longest module name it starts with (`test_review_drn.py` is `review_drn.py`'s). Dots in
   a file name become underscores (`fpdjango/gunicorn.conf.py`: `test_gunicorn_conf.py`).
   Management commands follow the same rule (`tests/risk/management/commands/test_rescore.py`).
2. Migrations are the one flat alias: `<app>/migrations/<name>.py` is tested in
   `tests/<app>/test_migrations_<name>.py` (ruff's config leaves out every `*/migrations/*`
   path, so a mirrored folder would go unlinted).
3. Every module has a test file, except `__init__.py`, `apps.py`, migrations and EXEMPT below.
4. Under tests/<app>/ there is nothing else than such test files, `__init__.py` and `conftest.py`.
5. What tests no single module lives in named places: tests/browser/ (pages in a real browser),
   tests/docs/test_<doc>[_<topic>].py (docs/<doc>.md followed to the letter),
   tests/bin/test_<script>[_<topic>].py (bin/<script> run for real), tests/support/ (helpers,
   no tests), and the suites of TOP_LEVEL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("risk", "accounts", "sandbox", "fpdjango")
NOT_MODULES = ("__init__.py", "apps.py")  # rule 3: no test file of their own needed

# Modules that declare and do nothing a test could watch on its own; each is exercised where said.
EXEMPT = {
    "accounts/urls.py": "the API's two routes, tested through their views (test_views*.py)",
    "risk/urls.py": "the webhook's route, tested through its view (tests/risk/test_views*.py)",
    "fpdjango/urls.py": "the project's URL table; each page is tested through its own module",
    "risk/signals.py": "two Signal objects; services/test_review_safety.py checks when they fire",
    "fpdjango/test_settings.py": "the suite's own settings: every test runs on them",
}

# Rule 5: the cross-cutting suites at the top of tests/, and what each one covers.
TOP_LEVEL = {
    "test_api_fuzz.py": "the API as a whole, fuzzed from its own OpenAPI schema",
    "test_api_schema.py": "the OpenAPI schema generated from every view",
    "test_deploy_kit.py": "Dockerfile, compose.yaml and deploy/",
    "test_docs_references.py": "every code reference in README.md and docs/*.md",
    "test_import_graph.py": "the import graph of all four packages",
    "test_layout.py": "this rule",
    "test_packaging.py": "the wheel and pyproject's dependencies",
}
PLACES = {"browser", "docs", "bin", "support"}
HOUSEKEEPING = {"__init__.py", "conftest.py"}


def _key(path: Path) -> str:
    """A code file's name as a test file spells it: no `.py`, dots as underscores."""
    return path.name.removesuffix(".py").replace(".", "_")


def _named_after(stem: str, names: list[str]) -> str | None:
    """The longest of `names` that `stem` is, or starts with followed by `_<topic>`."""
    fits = [name for name in names if stem == name or stem.startswith(f"{name}_")]
    return max(fits, key=len, default=None)


def module_of(test_file: Path, root: Path = ROOT) -> Path | None:
    """The code file that `test_file` (relative to `root`) tests by the rule, or None."""
    parts = test_file.parts
    if len(parts) < 3 or parts[0] != "tests" or parts[1] not in APPS:
        return None
    if not (test_file.name.startswith("test_") and test_file.suffix == ".py"):
        return None
    stem = test_file.stem.removeprefix("test_")
    code_dir = root.joinpath(*parts[1:-1])
    if len(parts) == 3 and stem.startswith("migrations_"):
        code_dir = root / parts[1] / "migrations"
        stem = stem.removeprefix("migrations_")
    if code_dir.name == "migrations" and len(parts) != 3:
        return None  # migrations are tested through the flat alias only
    if not code_dir.is_dir():
        return None
    files = {_key(f): f for f in code_dir.glob("*.py") if f.name != "__init__.py"}
    name = _named_after(stem, list(files))
    return files[name].relative_to(root) if name else None


def modules(root: Path = ROOT) -> list[Path]:
    """Every module that rule 3 asks a test file of."""
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts or path.name in NOT_MODULES:
                continue
            found.append(relative)
    return found


def app_test_files(root: Path = ROOT) -> list[Path]:
    return sorted(
        path.relative_to(root)
        for app in APPS
        for path in (root / "tests" / app).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def layout_problems(root: Path = ROOT, exempt: dict[str, str] = EXEMPT) -> list[str]:
    """Everything in `root` that breaks the rule, in words."""
    problems = []
    tested = set()
    for path in app_test_files(root):
        if path.name in HOUSEKEEPING:
            continue
        module = module_of(path, root)
        if module is None:
            problems.append(f"{path} tests no module by the rule")
        else:
            tested.add(module)
    for module in modules(root):
        if module not in tested and str(module) not in exempt:
            problems.append(f"{module} has no test file")
    for name in exempt:
        if not (root / name).is_file():
            problems.append(f"{name} is exempt but does not exist")
    return problems


def outside_problems(root: Path = ROOT) -> list[str]:
    """Rule 5: what lives in tests/ outside the mirror of the packages."""
    problems = []
    tests = root / "tests"
    for entry in sorted(tests.iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            if entry.name not in (*APPS, *PLACES):
                problems.append(f"tests/{entry.name}/ is neither a package's mirror nor a place")
        elif entry.name not in (*TOP_LEVEL, *HOUSEKEEPING):
            problems.append(f"tests/{entry.name} is not one of the listed top-level suites")
    targets = {
        "docs": sorted(f.stem for f in (root / "docs").glob("*.md")),
        "bin": sorted(f.name for f in (root / "bin").iterdir() if f.is_file()),
    }
    for place, names in targets.items():
        for path in sorted((tests / place).glob("test_*.py")):
            if _named_after(path.stem.removeprefix("test_"), names) is None:
                problems.append(f"tests/{place}/{path.name} follows nothing in {place}/")
    for path in sorted((tests / "support").rglob("test_*.py")):
        problems.append(f"{path.relative_to(root)}: tests do not live among the helpers")
    return problems


def test_every_test_file_maps_to_a_module_and_every_module_has_one():
    assert layout_problems() == []


def test_tests_outside_the_mirror_are_in_their_named_places():
    assert outside_problems() == []


@pytest.mark.parametrize(
    ("test_file", "module"),
    [
        ("tests/risk/services/test_review.py", "risk/services/review.py"),
        ("tests/risk/services/test_review_safety.py", "risk/services/review.py"),
        ("tests/risk/services/test_review_drn.py", "risk/services/review_drn.py"),
        ("tests/risk/test_selectors.py", "risk/selectors.py"),
        ("tests/risk/test_admin_site.py", "risk/admin_site.py"),
        (
            "tests/risk/management/commands/test_backfill_events.py",
            "risk/management/commands/backfill_events.py",
        ),
        ("tests/fpdjango/test_gunicorn_conf.py", "fpdjango/gunicorn.conf.py"),
        (
            "tests/risk/test_migrations_0011_event_raw_lz4.py",
            "risk/migrations/0011_event_raw_lz4.py",
        ),
        ("tests/sandbox/api/test_v4_visitor_delete.py", "sandbox/api/v4.py"),
        # Made-up paths: each breaks the rule.
        ("tests/risk/services/test_reviews.py", None),  # no such module
        ("tests/risk/test_review.py", None),  # the module lives in risk/services/
        ("tests/risk/nowhere/test_rules.py", None),  # no such package
        ("tests/risk/test_migrations_0099_nothing.py", None),  # no such migration
        ("tests/risk/migrations/test_0011_event_raw_lz4.py", None),  # migrations: flat alias
        ("tests/risk/services/test___init__.py", None),  # a package's __init__ is no module
        ("tests/risk/services/review_test.py", None),  # not a test file's name
        ("tests/scale/test_tasks.py", None),  # not a package's mirror
    ],
)
def test_the_rule_on_real_and_made_up_paths(test_file, module):
    found = module_of(Path(test_file))
    assert (str(found) if found else None) == module


def test_the_checker_finds_each_kind_of_mistake(tmp_path):
    """A made-up checkout: a stray test file, a module without tests, a stale exemption, a
    folder and a file outside the named places."""
    for name in ("bin/run", "docs/demo.md", "risk/__init__.py", "risk/apps.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for name in ("risk/rules.py", "risk/selectors.py", "risk/services/review.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for name in (
        "tests/risk/__init__.py",
        "tests/risk/test_rules.py",
        "tests/risk/test_rules_drn.py",
        "tests/risk/test_hostile_payloads.py",
        "tests/risk/services/test_review_safety.py",
        "tests/risk/helpers.py",
        "tests/scale/test_tasks.py",
        "tests/test_misc.py",
        "tests/docs/test_demo_walkthrough.py",
        "tests/docs/test_nothing.py",
        "tests/bin/test_run.py",
        "tests/support/test_helper.py",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for app in ("accounts", "sandbox", "fpdjango"):
        (tmp_path / app).mkdir()
        (tmp_path / "tests" / app).mkdir()

    assert sorted(layout_problems(tmp_path, exempt={"risk/urls.py": "gone"})) == [
        "risk/selectors.py has no test file",
        "risk/urls.py is exempt but does not exist",
        "tests/risk/helpers.py tests no module by the rule",
        "tests/risk/test_hostile_payloads.py tests no module by the rule",
    ]
    assert outside_problems(tmp_path) == [
        "tests/scale/ is neither a package's mirror nor a place",
        "tests/test_misc.py is not one of the listed top-level suites",
        "tests/docs/test_nothing.py follows nothing in docs/",
        "tests/support/test_helper.py: tests do not live among the helpers",
    ]
