"""manage.py settings_table: the README's table of settings, printed or written in place
between its markers."""

import io

import pytest
from django.core.management import call_command

from risk.conf import settings_table_markdown

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def run(**options) -> str:
    out = io.StringIO()
    call_command("settings_table", stdout=out, **options)
    return out.getvalue()


def test_it_prints_the_generated_table():
    printed = run()
    assert printed.strip() == settings_table_markdown().strip()
    assert "| `FINGERPRINT_SECRET_API_KEY` |" in printed


def test_write_replaces_only_the_table_between_the_markers(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{START}\n| outdated placeholder row |\n{END}\nafter\n")
    assert run(write=True).strip() == "README.md: settings table updated"
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert "outdated placeholder row" not in text and settings_table_markdown() in text
    once = readme.read_text()
    run(write=True)
    assert readme.read_text() == once  # running it again changes nothing


def test_a_readme_without_markers_is_left_alone_and_the_command_fails(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    (tmp_path / "README.md").write_text("# No table here\n")
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("settings_table", write=True, stdout=io.StringIO(), stderr=err)
    assert exit_.value.code == 1 and "no settings-table markers" in err.getvalue()
    assert (tmp_path / "README.md").read_text() == "# No table here\n"
