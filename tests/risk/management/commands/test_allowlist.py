"""manage.py allowlist: list, add (or update), remove; values normalised, edits audited."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from risk.models import AllowlistChange, AllowlistEntry

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("allowlist", *args, stdout=out)
    return out.getvalue()


def test_add_update_list_remove_with_an_audit_trail():
    assert run("add", "asn", "AS3320", "--note", "partner office") == "added asn 3320\n"
    assert run("add", "asn", "3320", "--note", "partner", "--expires", "2999-01-31").startswith(
        "updated asn 3320"
    )
    entry = AllowlistEntry.objects.get()
    assert entry.note == "partner" and entry.expires_at.year == 2999
    assert "3320" in run("list") and "until 2999-01-31" in run("list")
    assert run("remove", "asn", "AS3320") == "removed asn 3320\n"
    assert not AllowlistEntry.objects.exists()
    actions = list(AllowlistChange.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["added", "changed", "removed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "network", "10.0.0.0/8"), "--note is required"),
        (("add", "network", "10.0.0.0/40", "--note", "x"), "is not an IP address"),
        (("add", "network", "10.0.0.0/8", "--note", "x", "--expires", "soon"), "not a date"),
        (("add", "network", "10.0.0.0/8", "--note", "x", "--expires", "2001-01-01"), "past"),
        (("remove", "device", "nobody"), "no device entry"),
        (("add",), "needs KIND and VALUE"),
    ],
)
def test_mistakes_are_command_errors_and_write_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not AllowlistEntry.objects.exists() and not AllowlistChange.objects.exists()
